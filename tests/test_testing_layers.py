"""helpers.testing_layers: the bugs step 04 plants, and the JUnit report read back per layer."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

import helpers.mini_api as package
from helpers.course.steps import REPO
from helpers.mini_api import books, create_app, validation
from helpers.mini_api.problems import ValidationFailed
from helpers.servers import serve
from helpers.testing_layers import (
    BUGS,
    LAYERS,
    SERVED_BREAKS,
    LayerResult,
    create_broken_app,
    layer_results,
    plant,
    unplant,
)


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


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_unplant_puts_back_what_plant_replaced(restored, bug):
    before = (validation.validate_book, books.validate_book, books.get_session, package.load_config)
    plant(bug)
    assert (validation.validate_book, books.validate_book, books.get_session, package.load_config) != before
    unplant()
    assert (validation.validate_book, books.validate_book, books.get_session, package.load_config) == before
    unplant()  # nothing left to put back


def test_one_process_runs_one_session_per_bug_each_with_only_its_bug(tmp_path):
    """python -m helpers.testing_layers: a test module imported under one bug is not reused under the next."""
    unit = tmp_path / "unit"
    unit.mkdir()
    # Imports the function by name at import time, as step 04's unit tests do.
    (unit / "test_blank.py").write_text(
        "import pytest\n"
        "from helpers.mini_api.problems import ValidationFailed\n"
        "from helpers.mini_api.validation import validate_book\n\n"
        "def test_blank_title_is_refused():\n"
        "    with pytest.raises(ValidationFailed):\n"
        "        validate_book({'title': '   ', 'author': 'A'})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": ""}
    run = subprocess.run(
        [sys.executable, "-m", "helpers.testing_layers", f"--reports={tmp_path}",
         "--bug=", "--bug=blank-title",
         "--bug=no-commit", "--bug=", "--", "-q", "-p", "no:cacheprovider", str(unit)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summaries = {bug: layer_results(tmp_path / f"report-{bug}.xml")["unit"].summary
                 for bug in ("none", "blank-title", "no-commit")}
    assert summaries == {"none": "1 passed", "blank-title": "1 of 1 failed", "no-commit": "1 passed"}
    # The last session ("" again) ran after blank-title was planted and taken out: it passed.
    assert run.stdout.count("1 passed") == 3 and run.stdout.count("1 failed") == 1, run.stdout


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
    assert results["unit"] == LayerResult(failed=1, times=(0.001, 0.002))
    assert (results["unit"].tests, results["unit"].seconds) == (2, pytest.approx(0.003))
    assert results["functional"].failed == 1  # an error (a fixture that failed) counts
    # a tear-down error reported as a second entry of the same test: one test, failed, both times
    assert results["integration"] == LayerResult(failed=1, times=(pytest.approx(0.090),))
    assert results["unit"].summary == "1 of 2 failed"
    assert LayerResult(0, (0.01,) * 6).summary == "6 passed"


def test_median_is_the_typical_test_not_the_slow_one():
    result = LayerResult(0, (0.175, 0.014, 0.057))
    assert result.median == 0.057
    assert result.seconds == pytest.approx(0.246)


def journey(base_url):
    """What a client sees of the six requests of step 04's Question 9 (create, read, invalid...)."""
    seen = {}
    with requests.Session() as http:
        created = http.post(f"{base_url}/books", json={"title": "T", "author": "A"},
                            headers={"X-Request-ID": "journey-1"}, timeout=5)
        seen["create"] = (created.status_code, created.headers.get("Content-Type"),
                          created.headers.get("Location"), created.headers.get("X-Request-ID"))
        seen["read"] = http.get(f"{base_url}/books/1", timeout=5).status_code
        invalid = http.post(f"{base_url}/books", json={"title": "T"}, timeout=5)
        seen["invalid"] = (invalid.status_code, invalid.headers.get("Content-Type"), invalid.text[:1])
        large = http.post(f"{base_url}/books", data=b"x" * 100_000, timeout=5,
                          headers={"Content-Type": "application/json"})
        seen["large"] = large.status_code
        seen["delete"] = http.delete(f"{base_url}/books/1", timeout=5).status_code
        gone = http.get(f"{base_url}/books/1", timeout=5)
        seen["gone"] = (gone.status_code, gone.headers.get("X-Content-Type-Options"))
    return seen


GOOD = {
    "create": (201, "application/json", "/books/1", "journey-1"),
    "read": 200,
    "invalid": (422, "application/problem+json", "{"),
    "large": 413,
    "delete": 204,
    "gone": (404, "nosniff"),
}
CHANGED = {  # defect -> what a client sees differently
    "create-200": {"create": (200, "application/json", "/books/1", "journey-1")},
    "no-location": {"create": (201, "application/json", None, "journey-1")},
    "not-stored": {"read": 404, "delete": 404},
    "json-as-html": {"create": (201, "text/html; charset=utf-8", "/books/1", "journey-1")},
    "validation-400": {"invalid": (400, "application/problem+json", "{")},
    "errors-as-html": {"invalid": (422, "text/html; charset=utf-8", "<")},
    "no-body-limit": {"large": 400},
    "delete-keeps": {"gone": (200, "nosniff")},
    "no-nosniff": {"gone": (404, None)},
}


def test_the_real_api_gives_the_good_journey():
    server = serve(create_app({}), name="journey-good")
    try:
        assert journey(server.url) == GOOD
    finally:
        server.stop()
    server.check()


@pytest.mark.parametrize("defect", sorted(SERVED_BREAKS))
def test_each_served_break_changes_what_a_client_sees(defect):
    server = serve(create_broken_app(defect), name=f"journey-{defect}")
    try:
        seen = journey(server.url)
    finally:
        server.stop()
    server.check()
    if defect == "request-id-replaced":
        request_id = seen["create"][3]
        assert request_id != "journey-1" and len(request_id) == 32
        seen["create"] = GOOD["create"]
    else:
        assert {step: seen[step] for step in CHANGED[defect]} == CHANGED[defect]
    assert {step: got for step, got in seen.items() if step not in CHANGED.get(defect, {})} == {
        step: want for step, want in GOOD.items() if step not in CHANGED.get(defect, {})}


def test_unknown_defect_is_refused():
    with pytest.raises(ValueError, match="unknown defect"):
        create_broken_app("typo")
    assert set(SERVED_BREAKS) == set(CHANGED) | {"request-id-replaced"}

