"""helpers.testing_layers: the bugs step 04 plants, and the JUnit report read back per layer."""

from __future__ import annotations

import pytest

import helpers.mini_api as package
from helpers.mini_api import books, create_app, validation
from helpers.mini_api.problems import ValidationFailed
from helpers.testing_layers import BUGS, LAYERS, LayerResult, layer_results, plant


@pytest.fixture
def restored(monkeypatch):
    """Undo whatever plant() replaces once the test ends (setattr to itself records the original)."""
    for module, name in [(validation, "validate_book"), (books, "validate_book"),
                         (books, "get_session"), (package, "load_config")]:
        monkeypatch.setattr(module, name, getattr(module, name))
    return monkeypatch


def test_unknown_bug_is_refused(restored):
    with pytest.raises(ValueError, match="unknown bug 'typo'"):
        plant("typo")


def test_no_bug_changes_nothing(restored):
    before = (validation.validate_book, books.validate_book, books.get_session, package.load_config)
    plant("")
    assert (validation.validate_book, books.validate_book, books.get_session, package.load_config) == before


def test_blank_title_is_accepted_everywhere_validate_book_is_used(restored, tmp_path):
    plant("blank-title")
    assert validation.validate_book({"title": "   ", "author": "A"}) == {"title": "", "author": "A"}
    with pytest.raises(ValidationFailed):  # everything else is still checked
        validation.validate_book({"title": "   ", "author": 42})
    client = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}).test_client()
    assert client.post("/books", json={"title": "  ", "author": "A"}).status_code == 201


def test_no_commit_answers_201_and_keeps_nothing(restored, tmp_path):
    plant("no-commit")
    client = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}).test_client()
    created = client.post("/books", json={"title": "Dune", "author": "Frank Herbert"})
    assert created.status_code == 201
    assert created.json["id"] == 1
    assert client.get("/books/1").status_code == 404
    assert client.get("/books").json["total"] == 0


def test_env_config_drops_the_limit_only_when_configured_from_the_environment(restored, tmp_path):
    plant("env-config")
    restored.setenv("APP_ENV", "test")
    restored.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    assert create_app().config["MAX_CONTENT_LENGTH"] is None
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_every_bug_is_described():
    assert set(BUGS) == {"blank-title", "no-commit", "env-config"}
    assert LAYERS == ("unit", "integration", "functional")


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" tests="5">
<testcase classname="unit.test_validation" name="test_a" time="0.001"/>
<testcase classname="unit.test_validation" name="test_b[x]" time="0.002"><failure message="no"/></testcase>
<testcase classname="functional.test_api" name="test_c" time="0.150"><error message="fixture"/></testcase>
<testcase classname="integration.test_db" name="test_d" time="0.080"/>
<testcase classname="integration.test_db" name="test_d" time="0.010"><error message="teardown"/></testcase>
</testsuite></testsuites>
"""


def test_layer_results_counts_failures_errors_and_time(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(JUNIT)
    results = layer_results(report)
    assert set(results) == {"unit", "integration", "functional"}
    assert results["unit"] == LayerResult(tests=2, failed=1, seconds=pytest.approx(0.003))
    assert results["functional"].failed == 1  # an error (a fixture that failed) counts
    # a tear-down error reported as a second entry of the same test: one test, failed, both times
    assert results["integration"] == LayerResult(tests=1, failed=1, seconds=pytest.approx(0.090))
    assert results["unit"].summary == "1 of 2 failed"
    assert LayerResult(6, 0, 0.01).summary == "6 passed"
