"""helpers/serverless.py and helpers/mini_api/aws_lambda.py: the books API as a Lambda function."""

from __future__ import annotations

import importlib
import json
import sys

import pytest
from apig_wsgi import make_lambda_handler
from flask import request

from helpers.mini_api import create_app
from helpers.serverless import LambdaContext, cold_start, http_api_event


@pytest.fixture
def handler(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'books.db'}"})
    return make_lambda_handler(app)


def call(handler, event):
    response = handler(event, LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"])


def test_event_has_the_http_api_shape():
    """Payload format 2.0: lower-cased headers, raw path and query, the caller in requestContext."""
    event = http_api_event("post", "/books", query={"q": "dune & co"}, headers={"X-Request-ID": "abc"},
                           json_body={"title": "Dune"})
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/books" and event["rawQueryString"] == "q=dune+%26+co"
    assert event["queryStringParameters"] == {"q": "dune & co"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == event["headers"]["x-forwarded-for"]
    assert event["headers"]["x-request-id"] == "abc"
    assert event["headers"]["content-type"] == "application/json"
    assert json.loads(event["body"]) == {"title": "Dune"}
    assert event["headers"]["content-length"] == str(len(event["body"]))
    assert event["isBase64Encoded"] is False


def test_event_without_body_or_query_has_neither():
    event = http_api_event("GET", "/healthz")
    assert "body" not in event and "queryStringParameters" not in event and event["rawQueryString"] == ""
    with pytest.raises(ValueError, match="not both"):
        http_api_event("POST", "/books", json_body={}, body="{}")


def test_get_post_and_errors_through_the_adapter(handler):
    """GET, POST with a JSON body, a 404 and a 422 come back as Lambda response dicts."""
    dune = {"title": "Dune", "author": "Frank Herbert"}
    status, headers, body = call(handler, http_api_event("POST", "/books", json_body=dune))
    assert status == 201 and headers["location"] == "/books/1" and body["title"] == "Dune"
    status, _, body = call(handler, http_api_event("GET", "/books", query={"author": "Frank Herbert"}))
    assert status == 200 and [b["id"] for b in body["items"]] == [1]
    status, headers, body = call(handler, http_api_event("GET", "/books/42"))
    assert status == 404 and headers["content-type"] == "application/problem+json"
    status, _, body = call(handler, http_api_event("POST", "/books", body="{not json",
                                                   headers={"content-type": "application/json"}))
    assert status == 400, body
    status, _, body = call(handler, http_api_event("POST", "/books", json_body={"title": ""}))
    assert status == 422 and {e["field"] for e in body["errors"]} == {"title", "author"}


def test_forwarded_https_reaches_the_app():
    """API Gateway terminates TLS: the app sees https (X-Forwarded-Proto) and the caller's address."""
    app = create_app({"TESTING": True})
    app.get("/whoami")(lambda: {"scheme": request.scheme, "client": request.remote_addr})
    event = http_api_event("GET", "/whoami", source_ip="198.51.100.4")
    status, _, body = call(make_lambda_handler(app), event)
    assert status == 200 and body == {"scheme": "https", "client": "198.51.100.4"}


def test_context_counts_down():
    context = LambdaContext(timeout_s=3)
    assert 0 < context.get_remaining_time_in_millis() <= 3000
    assert context.invoked_function_arn.endswith(":function:books-api")


def test_packaged_module_reads_its_configuration_from_the_environment(tmp_path, monkeypatch):
    """aws_lambda.py builds the app at import (the init phase) from os.environ."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lambda.db'}")
    monkeypatch.setenv("PER_PAGE_MAX", "7")
    monkeypatch.delitem(sys.modules, "helpers.mini_api.aws_lambda", raising=False)
    module = importlib.import_module("helpers.mini_api.aws_lambda")
    try:
        assert module.app.config["PER_PAGE_MAX"] == 7
        status, _, body = call(module.handler, http_api_event("GET", "/books", query={"per_page": "7"}))
        assert status == 200 and body["per_page"] == 7
        assert call(module.handler, http_api_event("GET", "/books", query={"per_page": "8"}))[0] == 400
        assert (tmp_path / "lambda.db").exists()
    finally:
        sys.modules.pop("helpers.mini_api.aws_lambda", None)


def test_cold_start_runs_a_new_environment(tmp_path):
    """One new process: the init phase is timed, then every event is answered."""
    events = [http_api_event("GET", "/healthz"),
              http_api_event("POST", "/books", json_body={"title": "A", "author": "B"}),
              http_api_event("GET", "/books/1")]
    measured = cold_start(events, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'cold.db'}"})
    assert [call.status for call in measured.invocations] == [200, 201, 200]
    assert measured.import_seconds > 0 and measured.create_seconds > 0
    assert measured.init_seconds == measured.import_seconds + measured.create_seconds
    assert "helpers.mini_api.aws_lambda" not in sys.modules  # it ran in the other process


def test_cold_start_reports_a_failing_init_phase():
    """A wrong configuration fails the init phase, and the error names the variable."""
    with pytest.raises(RuntimeError, match="PER_PAGE_MAX"):
        cold_start([http_api_event("GET", "/healthz")], env={"PER_PAGE_MAX": "0"})
