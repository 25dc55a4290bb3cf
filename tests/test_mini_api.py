"""helpers.mini_api: the books API of step 04, through Flask's test client.

Each test gets a fresh app on a fresh SQLite file, as Flask's tutorial does.
"""

from __future__ import annotations

import pytest

from helpers.mini_api import create_app
from helpers.mini_api.config import ConfigError, load_config
from helpers.mini_api.middleware import StatusCounter

PROBLEM = "application/problem+json"


@pytest.fixture
def app(tmp_path):
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'books.db'}"})


@pytest.fixture
def client(app):
    return app.test_client()


def add(client, title="Dune", author="Frank Herbert", year=1965):
    response = client.post("/books", json={"title": title, "author": author, "year": year})
    assert response.status_code == 201, response.json
    return response.json


def test_create_read_update_delete(client):
    book = add(client)
    assert book == {"id": 1, "title": "Dune", "author": "Frank Herbert", "year": 1965}
    assert client.get("/books/1").json == book
    assert client.patch("/books/1", json={"year": 1966}).json["year"] == 1966
    assert client.delete("/books/1").status_code == 204
    assert client.get("/books/1").status_code == 404


def test_create_sets_location(client):
    response = client.post("/books", json={"title": "Emma", "author": "Jane Austen"})
    assert response.headers["Location"] == "/books/1"


def test_fresh_database_per_app(tmp_path):
    first = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}).test_client()
    second = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}).test_client()
    add(first)
    assert second.get("/books").json["total"] == 0


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": "[" * 20_000 + "]" * 20_000, "content_type": "application/json"}, 400),  # RecursionError
        ({"json": [1, 2]}, 400),
        ({"data": "title=Dune", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"json": {"title": 1, "author": "A"}}, 422),
        ({"json": {"title": "T", "author": "A", "colour": "red"}}, 422),
        ({"json": {"title": "T", "author": "A", "year": True}}, 422),
        ({"json": {"title": " ", "author": "A"}}, 422),
        ({"json": {"author": "A"}}, 422),
        ({"data": "x" * 70_000, "content_type": "application/json"}, 413),
    ],
)
def test_bad_input_gets_a_problem_not_a_500(client, kwargs, status):
    response = client.post("/books", **kwargs)
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    assert response.json["status"] == status


def test_validation_lists_every_field(client):
    response = client.post("/books", json={"title": 3, "colour": "red"})
    fields = {e["field"] for e in response.json["errors"]}
    assert fields == {"title", "author", "colour"}


def test_unknown_route_and_method(client):
    assert client.get("/nowhere").json["status"] == 404
    response = client.put("/books")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.mimetype == PROBLEM


def test_unexpected_error_is_a_problem_without_details(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.logger.disabled = True
    app.config["TESTING"] = False  # TESTING would propagate the exception
    import logging

    logging.getLogger("helpers.mini_api.problems").disabled = True
    try:
        response = app.test_client().get("/boom")
    finally:
        logging.getLogger("helpers.mini_api.problems").disabled = False
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)


def test_pagination_and_filters(client):
    for i in range(12):
        add(client, title=f"Book {i}", author="A" if i % 2 else "B")
    page = client.get("/books?per_page=5&page=2").json
    assert [b["id"] for b in page["items"]] == [6, 7, 8, 9, 10]
    assert page["total"] == 12
    assert set(page["links"]) == {"self", "first", "last", "prev", "next"}
    last = client.get(page["links"]["last"]).json
    assert len(last["items"]) == 2 and "next" not in last["links"]
    only_a = client.get("/books?author=A&per_page=100").json
    assert only_a["total"] == 6 and "author=A" in only_a["links"]["self"]
    assert client.get("/books?q=Book%201").json["total"] == 3  # 1, 10, 11
    assert client.get("/books?q=%25").json["total"] == 0  # % is a literal, not a wildcard


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=101", "per_page=-1",
                                   "page=\u00b2", "page=\u0663", "page=9223372036854775808",
                                   "page=1000001", "page= 1"])
def test_bad_pagination_is_400(client, query):
    """Superscripts and other Unicode digits ("²".isdigit() is True) and 64-bit overflows: 400, not 500."""
    response = client.get(f"/books?{query}")
    assert response.status_code == 400 and response.mimetype == PROBLEM


@pytest.mark.parametrize("book_id", [2**63 - 1, 2**63, 10**30])
def test_huge_ids_are_404_not_500(client, book_id):
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(f"/books/{book_id}", method=method, json={"year": 2000})
        assert response.status_code == 404 and response.mimetype == PROBLEM, (method, response.json)


def test_integral_float_year_and_lone_surrogate(client):
    """JSON has one number type (1990.0 is 1990); a lone surrogate cannot be stored: 422, not 500."""
    assert client.post("/books", json={"title": "T", "author": "A", "year": 1990.0}).json["year"] == 1990
    assert client.post("/books", json={"title": "T", "author": "A", "year": 1990.5}).status_code == 422
    bad = client.post("/books", data='{"title": "\\ud800", "author": "A"}', content_type="application/json")
    assert bad.status_code == 422 and bad.mimetype == PROBLEM


def test_error_responses_keep_the_exception_headers(app):
    """WWW-Authenticate on a 401 and Retry-After on a 429/503 survive the problem-details handler."""
    from flask import abort
    from werkzeug.datastructures import WWWAuthenticate
    from werkzeug.exceptions import TooManyRequests, Unauthorized

    @app.get("/private")
    def private():
        raise Unauthorized("log in first", www_authenticate=WWWAuthenticate("Bearer", {"realm": "books"}))

    @app.get("/busy")
    def busy():
        raise TooManyRequests("slow down", retry_after=30)

    @app.get("/teapot")
    def teapot():
        abort(418)

    client = app.test_client()
    private_response = client.get("/private")
    assert private_response.status_code == 401 and private_response.mimetype == PROBLEM
    assert private_response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    busy_response = client.get("/busy")
    assert busy_response.headers["Retry-After"] == "30" and busy_response.mimetype == PROBLEM
    assert client.get("/teapot").mimetype == PROBLEM


def test_nosniff_on_every_response(client):
    for url in ("/healthz", "/books", "/nope"):
        assert client.get(url).headers["X-Content-Type-Options"] == "nosniff"


def test_openapi_book_schema_accepts_a_real_book(client):
    """The response schema accepts what the API returns (id included, year null)."""
    import jsonschema

    doc = client.get("/openapi.json").json
    created = client.post("/books", json={"title": "T", "author": "A"}).json
    resolver_schema = {**doc["components"]["schemas"]["Book"], "$defs": {}}
    jsonschema.validate(created, resolver_schema)
    patch = doc["paths"]["/books/{book_id}"]["patch"]
    assert "required" not in doc["components"]["schemas"]["BookPatch"]
    assert {"400", "413", "415", "422", "404"} <= set(patch["responses"])


def test_request_id_and_timing(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.headers["Server-Timing"].startswith("app;dur=")
    generated = client.get("/healthz", headers={"X-Request-ID": "has spaces; and <html>"})
    assert len(generated.headers["X-Request-ID"]) == 32


def test_status_counter_middleware(app):
    app.wsgi_app = StatusCounter(app.wsgi_app)
    client = app.test_client()
    client.get("/healthz")
    client.get("/nope")
    assert app.wsgi_app.counts == {200: 1, 404: 1}


def test_health_readiness_openapi(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    doc = client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.") and "/books/{book_id}" in doc["paths"]


def test_readiness_fails_when_database_unreachable(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'books.db'}"
    client = create_app({"TESTING": True, "DATABASE_URL": url}).test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    (tmp_path / "missing-dir").mkdir()
    assert client.get("/readyz").status_code == 200


def test_demo_routes_only_when_enabled(tmp_path):
    assert create_app({"TESTING": True}).test_client().get("/slow?seconds=0").status_code == 404
    demo = create_app({"TESTING": True, "DEMO_ROUTES": True}).test_client()
    assert demo.get("/slow?seconds=0").json == {"slept": 0.0}
    assert demo.get("/slow?seconds=9").status_code == 400
    assert demo.get("/work?n=4").json == {"n": 4, "sum_of_squares": 14}
    assert demo.get("/work?n=abc").status_code == 400


def test_load_config_defaults_and_errors():
    assert load_config({})["DATABASE_URL"] == "sqlite://"
    assert load_config({"MAX_CONTENT_LENGTH": "10"})["MAX_CONTENT_LENGTH"] == 10
    for env, variable in [
        ({"MAX_CONTENT_LENGTH": "ten"}, "MAX_CONTENT_LENGTH"),
        ({"PER_PAGE_MAX": "0"}, "PER_PAGE_MAX"),
        ({"APP_ENV": "prod"}, "APP_ENV"),
        ({"APP_ENV": "production"}, "SECRET_KEY"),
        ({"APP_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"APP_ENV": "production", "SECRET_KEY": "k" * 40}, "DATABASE_URL"),
        ({"APP_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": ""}, "DATABASE_URL"),
        ({"DATABASE_URL": "books.db"}, "DATABASE_URL"),
        ({"DEMO_ROUTES": "yes"}, "DEMO_ROUTES"),
    ]:
        with pytest.raises(ConfigError) as info:
            load_config(env)
        assert info.value.variable == variable


def test_create_app_reads_environment(monkeypatch):
    monkeypatch.setenv("PER_PAGE_MAX", "7")
    assert create_app().config["PER_PAGE_MAX"] == 7
