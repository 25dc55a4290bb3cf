"""helpers.frameworks: the same endpoint in Flask, FastAPI and Django answers alike."""

from __future__ import annotations

import types

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import ValidationError

from helpers import frameworks
from helpers.frameworks import SAMPLE_REQUESTS, code_lines, fastapi_app, requests_per_second, send_all

VALID = {"title": "Dune", "author": "Frank Herbert", "year": 1965}


@pytest.fixture
def servers():
    running = frameworks.serve_all()
    yield running
    frameworks.stop_all(running)  # also re-raises any error an app hit


def test_same_requests_get_the_same_answers(servers):
    replies = send_all(servers)
    for label, by_framework in replies.items():
        flask, fastapi, django = (by_framework[name] for name in frameworks.FRAMEWORKS)
        statuses = {name: reply.status for name, reply in by_framework.items()}
        assert flask.status == fastapi.status == django.status, f"{label}: statuses differ: {statuses}"
        assert flask.media_type == fastapi.media_type == django.media_type, label
        assert flask.location == fastapi.location == django.location, label
        if flask.status == 422:
            # Each framework words its messages; the problem and the fields it names must agree.
            fields = [sorted(e["field"] for e in r.body.pop("errors")) for r in (flask, fastapi, django)]
            assert fields[0] == fields[1] == fields[2] == ["author", "colour", "title", "year"], fields
        assert flask.body == fastapi.body == django.body, f"{label}: bodies differ"
    assert [replies[label]["Flask"].status for label in SAMPLE_REQUESTS] == [201, 200, 422, 404]
    assert replies["valid"]["Django"].body == {"id": 1, **VALID}
    assert replies["valid"]["Django"].location == "/books/1"
    assert replies["missing"]["FastAPI"].body == {
        "type": "about:blank", "title": "Not Found", "status": 404, "detail": "no book with id 99"}


def test_a_new_app_starts_empty(servers):
    send_all(servers, {"create": SAMPLE_REQUESTS["valid"]})
    again = frameworks.serve_all()  # replaces the servers by name; Django's one project is emptied
    servers.update(again)
    replies = send_all(again, {"read": ("GET", "/books/1", None), "create": SAMPLE_REQUESTS["valid"]})
    assert {name: r.status for name, r in replies["read"].items()} == dict.fromkeys(again, 404)
    assert {name: r.body["id"] for name, r in replies["create"].items()} == dict.fromkeys(again, 1)


BAD_INPUT = {
    "malformed JSON": b'{"title": "Dune",',
    "not UTF-8": b'{"title": "\xff", "author": "A"}',
    "a JSON list": b'["Dune"]',
    "a JSON string": b'"Dune"',
    "nested 20,000 deep": b"[" * 20_000 + b"]" * 20_000,
    "over 64 KiB": b'{"title": "' + b"x" * 70_000 + b'", "author": "A"}',
    "title is a number": {"title": 42, "author": "A"},
    "title is a list": {"title": ["Dune"], "author": "A"},
    "title is blank": {"title": "   ", "author": "A"},
    "title too long": {"title": "x" * 201, "author": "A"},
    "year is true": {**VALID, "year": True},
    "year is 0": {**VALID, "year": 0},
    "year is 2101": {**VALID, "year": 2101},
    "year is 1965.5": {**VALID, "year": 1965.5},
    "year is an object": {**VALID, "year": {"value": 1965}},
}


def test_bad_input_is_a_4xx_never_a_5xx_nor_a_book(servers):
    replies = send_all(servers, {label: ("POST", "/books", body) for label, body in BAD_INPUT.items()})
    replies["no body"] = {name: frameworks.send(s.url, "POST", "/books", None)
                                  for name, s in servers.items()}
    for path in ("/books/abc", "/books/-1", f"/books/{2**70}", "/nowhere"):
        replies[path] = {name: frameworks.send(s.url, "GET", path) for name, s in servers.items()}
    wrong = {label: {name: r.status for name, r in by.items() if not 400 <= r.status < 500}
             for label, by in replies.items()}
    assert {label: bad for label, bad in wrong.items() if bad} == {}
    # Nothing was stored by any of them.
    ids = {name: frameworks.send(s.url, "POST", "/books", VALID).body["id"] for name, s in servers.items()}
    assert ids == dict.fromkeys(servers, 1)


def test_bodies_over_64_kib_are_refused(servers):
    big = b'{"title": "' + b"x" * 70_000 + b'", "author": "A"}'
    statuses = {name: frameworks.send(s.url, "POST", "/books", big).status for name, s in servers.items()}
    assert statuses == {"Flask": 413, "FastAPI": 413, "Django": 400}

    def chunks():  # no Content-Length: the limit must count what arrives
        yield b'{"title": "'
        yield from (b"x" * 1000 for _ in range(70))
        yield b'", "author": "A"}'

    chunked = requests.post(servers["FastAPI"].url + "/books", data=chunks(), timeout=5,
                            headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413 and chunked.json()["title"] == "Content Too Large"


def test_text_is_stripped_and_year_optional(servers):
    replies = send_all(servers, {"create": ("POST", "/books", {"title": "  Emma ", "author": "Jane Austen"})})
    assert {name: r.body for name, r in replies["create"].items()} == dict.fromkeys(
        servers, {"id": 1, "title": "Emma", "author": "Jane Austen", "year": None})


def test_django_settings_are_production_settings(servers):
    from django.conf import settings

    assert settings.DEBUG is False
    assert settings.ALLOWED_HOSTS == ["127.0.0.1", "localhost"]
    assert len(settings.SECRET_KEY) >= 50 and "insecure" not in settings.SECRET_KEY
    host = frameworks.send(servers["Django"].url, "GET", "/books/1", headers={"Host": "evil.example"})
    assert host.status == 400


def test_fastapi_documents_the_endpoint(servers):
    spec = requests.get(servers["FastAPI"].url + "/openapi.json", timeout=5).json()
    assert set(spec["paths"]) == {"/books", "/books/{book_id}"}
    year = spec["components"]["schemas"]["BookIn"]["properties"]["year"]
    assert {"minimum": 1, "maximum": 2100, "type": "integer"} in year["anyOf"]
    assert "422" in spec["paths"]["/books"]["post"]["responses"]
    assert "404" in spec["paths"]["/books/{book_id}"]["get"]["responses"]
    for name in ("Flask", "Django"):
        assert requests.get(servers[name].url + "/openapi.json", timeout=5).status_code == 404


fastapi_schema = schemathesis.openapi.from_asgi("/openapi.json", fastapi_app.create_fastapi_app())


@fastapi_schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck), print_blob=False)
def test_fastapi_app_conforms_to_its_openapi(case):
    """schemathesis, as tests/test_schemathesis.py does for the mini API: no 5xx, documented
    statuses and media types (the problem details included), bodies that match their schemas."""
    case.call_and_validate()


def test_methods_not_allowed_keep_allow(servers):
    for name, server in servers.items():
        response = requests.put(server.url + "/books/1", timeout=5)
        allowed = sorted(response.headers.get("Allow", "").replace(",", " ").split())
        assert response.status_code == 405 and "GET" in allowed, (name, response.headers)


def test_fastapi_model_alone():
    with pytest.raises(ValidationError) as raised:
        fastapi_app.BookIn.model_validate({"title": "", "year": 3000, "colour": "red"})
    assert sorted(e["loc"][-1] for e in raised.value.errors()) == ["author", "colour", "title", "year"]


def test_code_lines_skips_blanks_comments_and_docstrings(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text('''"""Module docstring,
over two lines."""

import os  # a comment after code counts as code


def f(x):
    """Docstring."""
    # a comment line
    message = """not a docstring:
an assignment"""
    return (x,
            os.sep, message)


class C:
    """Class docstring."""

    y = 1
''')
    module = types.ModuleType("sample")
    module.__file__ = str(source)
    assert code_lines(module) == 1 + 1 + 2 + 2 + 1 + 1


def test_code_lines_of_the_three_apps():
    counts = {name: code_lines(module) for name, module in frameworks._modules().items()}
    assert all(20 < n < 120 for n in counts.values()), counts


def test_requests_per_second(servers):
    frameworks.send(servers["Flask"].url, "POST", "/books", VALID)
    assert requests_per_second(servers["Flask"].url + "/books/1", duration=0.05) > 0
    with pytest.raises(RuntimeError, match="404, not 200"):
        requests_per_second(servers["Flask"].url + "/books/99", duration=0.05)


def test_printed_tables(servers, capsys):
    replies = send_all(servers)
    frameworks.show(replies)
    frameworks.error_table(replies["invalid"])
    frameworks.status_table(replies)
    out = capsys.readouterr().out
    assert "invalid: POST /books" in out and "[4 errors, below]" in out
    assert "colour | unknown field" in out
    assert out.splitlines()[-1].split() == ["missing", "404", "404", "404"]


def test_best_rates_takes_turns(monkeypatch):
    calls = []

    def fake(url, duration):
        calls.append(url)
        return {"a": 10.0, "b": 20.0}[url] * len(calls)

    monkeypatch.setattr(frameworks, "requests_per_second", fake)
    assert frameworks.best_rates({"A": "a", "B": "b"}, rounds=2) == {"A": 30.0, "B": 80.0}
    assert calls == ["a", "b", "a", "b"]


def test_an_integral_float_year_is_the_year(servers):
    """JSON's 1965.0 is the number 1965, an "integer" to JSON Schema and so to the OpenAPI
    document (schemathesis sends such years): all three store the int 1965."""
    for name, server in servers.items():
        created = frameworks.send(server.url, "POST", "/books", {**VALID, "year": 1965.0})
        assert created.status == 201 and created.body["year"] == 1965, (name, created)
        assert type(created.body["year"]) is int, (name, created.body)
