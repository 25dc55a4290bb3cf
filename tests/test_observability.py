"""helpers.observability: JSON logs, redaction, request IDs, metrics, traces, percentiles."""

from __future__ import annotations

import json
import logging
import math

import pytest
import requests
from flask import Flask
from prometheus_client import CollectorRegistry

from helpers.observability import (
    JsonFormatter,
    RedactSecrets,
    counter_increase,
    histogram_buckets,
    histogram_quantile,
    instrument,
    memory_logger,
    outgoing_headers,
    parse_traceparent,
)
from helpers.servers import serve


def create_app(name="api"):
    app = Flask(name)

    @app.get("/items/<int:item_id>")
    def item(item_id):
        return {"id": item_id}

    @app.get("/fail")
    def fail():
        return {"error": "nope"}, 503

    return app


def test_json_formatter_fields_extras_and_exceptions():
    log, stream = memory_logger("test.json", JsonFormatter())
    log.info("order %s", 7, extra={"request_id": "r1"})
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        log.exception("boom")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "order 7" and first["request_id"] == "r1" and first["level"] == "INFO"
    assert first["time"].endswith("Z")
    assert "ZeroDivisionError" in second["exc"]


def test_json_formatter_without_time():
    log, stream = memory_logger("test.notime", JsonFormatter(include_time=False))
    log.warning("x")
    assert json.loads(stream.getvalue()) == {"level": "WARNING", "logger": "test.notime", "message": "x"}


def test_memory_logger_is_rerun_safe_and_silent(capsys):
    memory_logger("test.rerun")
    log, stream = memory_logger("test.rerun")
    log.info("once")
    assert len(log.handlers) == 1 and not log.propagate
    assert len(stream.getvalue().splitlines()) == 1
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("password=hunter2 user=bob", "password=*** user=bob"),
        ("GET /cb?token=abc&state=1", "GET /cb?token=***&state=1"),
        ('{"api_key": "K-1"}', '{"api_key": "***"}'),
        ("Authorization: Bearer eyJ.x.y", "Authorization: Bearer ***"),
        ("nothing to hide", "nothing to hide"),
        ("connect db_password=hunter2 host=db", "connect db_password=*** host=db"),
        ("POST /oauth access_token=abc123&expires=3600", "POST /oauth access_token=***&expires=3600"),
        ("client_secret: s3 refresh_token=r1", "client_secret: *** refresh_token=***"),
        ('{"Password": "two words", "user": "bob"}', '{"Password": "***", "user": "bob"}'),
        ("X-API-Key: K-2", "X-API-Key: ***"),
        ("authorization: basic dXNlcjpwYXNz", "authorization: basic ***"),
        ("sent Bearer abc.def upstream", "sent Bearer *** upstream"),
    ],
)
def test_redact_secrets(message, expected):
    assert RedactSecrets().redact(message) == expected


def test_redact_filter_formats_args_first():
    log, stream = memory_logger("test.redact", logging.Formatter("%(message)s"))
    log.handlers[0].addFilter(RedactSecrets())
    log.info("login %s password=%s", "alice", "s3cret")
    assert stream.getvalue() == "login alice password=***\n"


def test_redact_filter_masks_structured_fields():
    log, stream = memory_logger("test.redact.extra", JsonFormatter(include_time=False))
    log.handlers[0].addFilter(RedactSecrets())
    log.info("login", extra={"user": "alice", "password": "hunter2", "API_KEY": "K-3",
                             "headers": {"Authorization": "Bearer x", "Accept": "text/html"},
                             "note": "retry with token=abc"})
    entry = json.loads(stream.getvalue())
    masked = "***"
    assert entry["password"] == masked and entry["API_KEY"] == masked and entry["user"] == "alice"
    assert entry["headers"] == {"Authorization": "***", "Accept": "text/html"}
    assert entry["note"] == "retry with token=***"
    assert "hunter2" not in stream.getvalue() and "K-3" not in stream.getvalue()


def test_redact_filter_masks_tracebacks():
    log, stream = memory_logger("test.redact.exc", JsonFormatter(include_time=False))
    log.handlers[0].addFilter(RedactSecrets())
    try:
        raise ValueError("bad login password=hunter2")
    except ValueError:
        log.exception("failed")
    assert "hunter2" not in stream.getvalue() and "password=***" in stream.getvalue()


@pytest.mark.parametrize(
    "hostile",
    ["<script>alert(1)</script>", "a" * 65, "id with spaces", "x\u00e9", "", "a\tb"],
)
def test_instrument_replaces_a_malformed_request_id(hostile):
    log, stream = memory_logger("test.rid", JsonFormatter(include_time=False))
    client = instrument(create_app(), log).test_client()
    response = client.get("/items/1", headers={"X-Request-ID": hostile})
    rid = response.headers["X-Request-ID"]
    assert rid != hostile and len(rid) == 32 and int(rid, 16) >= 0
    assert json.loads(stream.getvalue())["request_id"] == rid


@pytest.mark.parametrize("good", ["given", "3f2b6c1e-8a4d-4e21-9c0b-7f1e2d3c4b5a", "a" * 64, "edge:1.2_3"])
def test_instrument_keeps_a_well_formed_request_id(good):
    client = instrument(create_app()).test_client()
    assert client.get("/items/1", headers={"x-request-id": good}).headers["X-Request-ID"] == good


def test_span_list_is_bounded():
    app = instrument(create_app(), keep_spans=5)
    client = app.test_client()
    for i in range(12):
        client.get(f"/items/{i}")
    spans = app.extensions["observability"]["spans"]
    assert len(spans) == 5 and spans[-1]["name"] == "GET /items/<int:item_id>"


TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"00-{TRACE}-{PARENT}-01", (TRACE, PARENT, "01")),
        (f"00-{TRACE}-{PARENT}-00", (TRACE, PARENT, "00")),  # not sampled: kept as received
        (f"01-{TRACE}-{PARENT}-01-future-field", (TRACE, PARENT, "01")),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{TRACE}-{PARENT}-01-extra", None),
        (f"00-{TRACE.upper()}-{PARENT}-01", None),
        (f"00-{TRACE[:-1]}-{PARENT}-01", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_traceparent(header, expected):
    assert parse_traceparent(header) == expected


def test_trace_flags_are_passed_on_as_received():
    back = serve(instrument(create_app("backend2")))
    front = Flask("frontend2")

    @front.get("/")
    def call():
        return requests.get(back.url + "/items/5", headers=outgoing_headers(), timeout=5).json()

    front_server = serve(instrument(front))
    requests.get(front_server.url + "/", headers={"traceparent": f"00-{TRACE}-{PARENT}-00"}, timeout=5)
    outer = front_server.app.extensions["observability"]["spans"][0]
    inner = back.app.extensions["observability"]["spans"][0]
    assert outer["trace_id"] == inner["trace_id"] == TRACE and outer["parent_id"] == PARENT
    assert outer["flags"] == inner["flags"] == "00"
    requests.get(front_server.url + "/", headers={"traceparent": f"00-{'0' * 32}-{PARENT}-01"}, timeout=5)
    fresh = front_server.app.extensions["observability"]["spans"][1]
    assert fresh["trace_id"] != "0" * 32 and fresh["parent_id"] is None and fresh["flags"] == "01"


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], 0), ([5], 0), ([5, 5], 0), ([10, 25, 40], 30), ([5000, 3], 3), ([100, 160, 20, 50], 110)],
)
def test_counter_increase_handles_restarts(values, expected):
    assert counter_increase(values) == expected


def test_instrument_request_ids_logs_and_metrics():
    log, stream = memory_logger("test.access", JsonFormatter(include_time=False))
    server = serve(instrument(create_app(), log, keep_samples=10))
    first = requests.get(server.url + "/items/1", timeout=5)
    second = requests.get(server.url + "/items/2", headers={"X-Request-ID": "given"}, timeout=5)
    requests.get(server.url + "/fail", timeout=5)
    requests.get(server.url + "/missing", timeout=5)
    assert len(first.headers["X-Request-ID"]) == 32 and second.headers["X-Request-ID"] == "given"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["route"] for line in lines] == ["/items/<int:item_id>"] * 2 + ["/fail", "unmatched"]
    assert lines[1]["request_id"] == "given"
    text = requests.get(server.url + "/metrics", timeout=5).text
    assert 'http_requests_total{method="GET",route="/items/<int:item_id>",status="200"} 2.0' in text
    assert 'status="503"' in text and "/metrics" not in text
    assert len(server.app.extensions["observability"]["samples"]) == 4


def test_two_instrumented_apps_do_not_collide():
    registry_a, registry_b = CollectorRegistry(), CollectorRegistry()
    instrument(create_app("a"), registry=registry_a)
    instrument(create_app("b"), registry=registry_b)  # no "Duplicated timeseries"


def test_instrument_twice_says_what_to_do():
    app = instrument(create_app())
    with pytest.raises(ValueError, match="already instrumented"):
        instrument(app)


def test_trace_and_request_id_propagate():
    back = serve(instrument(create_app("backend")))
    front = Flask("frontend")

    @front.get("/")
    def call():
        return requests.get(back.url + "/items/5", headers=outgoing_headers(), timeout=5).json()

    front_server = serve(instrument(front))
    response = requests.get(front_server.url + "/", headers={"X-Request-ID": "rid"}, timeout=5)
    assert response.json() == {"id": 5}
    outer = front_server.app.extensions["observability"]["spans"][0]
    inner = back.app.extensions["observability"]["spans"][0]
    assert inner["trace_id"] == outer["trace_id"] and inner["parent_id"] == outer["span_id"]
    assert outer["parent_id"] is None


def test_outgoing_headers_outside_a_request():
    with pytest.raises(RuntimeError, match="inside a request"):
        with Flask("x").app_context():
            outgoing_headers()


BUCKETS = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (float("inf"), 100.0)]


@pytest.mark.parametrize(("q", "expected"), [(0.5, 0.1), (0.25, 0.05), (0.7, 0.3), (0.95, 0.75), (1.0, 1.0)])
def test_histogram_quantile_interpolates_like_promql(q, expected):
    assert math.isclose(histogram_quantile(q, BUCKETS), expected)


def test_histogram_quantile_edge_cases():
    assert histogram_quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        histogram_quantile(95, BUCKETS)
    with pytest.raises(ValueError, match="Inf"):
        histogram_quantile(0.5, [(1.0, 3.0)])


def test_histogram_buckets_sums_matching_series():
    text = "\n".join([
        "# TYPE d histogram",
        'd_bucket{route="/a",le="1.0"} 1.0', 'd_bucket{route="/a",le="+Inf"} 2.0',
        'd_bucket{route="/b",le="1.0"} 3.0', 'd_bucket{route="/b",le="+Inf"} 3.0',
        'd_count{route="/a"} 2.0', 'd_sum{route="/a"} 2.5',
        'd_count{route="/b"} 3.0', 'd_sum{route="/b"} 1.5', "",
    ])
    assert histogram_buckets(text, "d") == [(1.0, 4.0), (float("inf"), 5.0)]
    assert histogram_buckets(text, "d", route="/a") == [(1.0, 1.0), (float("inf"), 2.0)]
    with pytest.raises(ValueError, match="no histogram"):
        histogram_buckets(text, "nope")
