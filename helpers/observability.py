"""Logs, metrics and traces for any Flask app: the plumbing of step 08.

- :class:`JsonFormatter` -- one JSON object per log line, extras (``request_id``...) included.
- :class:`RedactSecrets` -- a logging filter that masks passwords, tokens and keys.
- :func:`memory_logger` -- a logger writing to an in-memory stream (re-run safe), so a
  notebook can read back what a background server logged.
- :func:`instrument` -- wraps a Flask app with request IDs, W3C ``traceparent`` trace
  context, a JSON access log, and prometheus-client metrics served at ``/metrics``
  from the app's own :class:`~prometheus_client.CollectorRegistry` (never the global
  default one, so building the app twice never raises "Duplicated timeseries").
- :func:`outgoing_headers` -- the headers to pass on when a request handler calls
  another service, so logs and traces can be joined across services.
- :func:`histogram_quantile` and :func:`histogram_buckets` -- percentiles estimated from
  a Prometheus histogram the way PromQL's ``histogram_quantile`` does.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "JsonFormatter",
    "LATENCY_BUCKETS",
    "RedactSecrets",
    "histogram_buckets",
    "histogram_quantile",
    "instrument",
    "memory_logger",
    "outgoing_headers",
]

#: Histogram bucket upper bounds (seconds) suited to a fast API.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object: ``time``, ``level``, ``logger``, ``message``.

    Anything passed with ``extra={...}`` becomes a field too, and an exception becomes
    ``exc``. ``include_time=False`` leaves the timestamp out (handy for stable output).
    """

    def __init__(self, include_time: bool = True) -> None:
        super().__init__()
        self.include_time = include_time

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {}
        if self.include_time:
            entry["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
                f".{int(record.msecs):03d}Z"
            )
        entry.update(level=record.levelname, logger=record.name, message=record.getMessage())
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RedactSecrets(logging.Filter):
    """Mask secrets in log messages: ``password=...``, ``token: ...``, ``Bearer ...``.

    The record is kept (the filter returns True) with the secret replaced by ``***``.
    The message is formatted first (``msg % args``), so secrets passed as arguments are
    caught too. ``keys`` are the field names whose values are masked.
    """

    def __init__(self, keys: Iterable[str] = ("password", "passwd", "secret", "token", "api_key")) -> None:
        super().__init__()
        names = "|".join(re.escape(k) for k in keys)
        self._pattern = re.compile(rf"(?i)\b({names})(\"?\s*[=:]\s*\"?)([^\s\"&,;]+)")
        self._bearer = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")

    def redact(self, text: str) -> str:
        """``text`` with secret values replaced by ``***``."""
        text = self._pattern.sub(r"\1\2***", text)
        return self._bearer.sub(r"\1 ***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


def memory_logger(
    name: str, formatter: logging.Formatter | None = None, level: int = logging.INFO
) -> tuple[logging.Logger, io.StringIO]:
    """A logger that writes only to a fresh in-memory stream; returns ``(logger, stream)``.

    Calling it again with the same ``name`` replaces the previous handlers (re-run safe).
    The logger does not propagate, so nothing reaches the root logger or stderr.
    """
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger, stream


_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def instrument(
    app: Flask,
    logger: logging.Logger | None = None,
    registry: CollectorRegistry | None = None,
    service: str | None = None,
    keep_samples: int = 0,
) -> Flask:
    """Add request IDs, trace context, an access log and metrics to ``app``; return it.

    For every request: reuse the caller's ``X-Request-ID`` or make one, echo it in the
    response; join the caller's W3C ``traceparent`` trace (or start one) with a new
    span; log one JSON-friendly "request finished" line to ``logger`` with
    ``request_id``, ``trace_id``, ``method``, ``route``, ``status``, ``duration_ms``; and
    update the metrics ``http_requests_total``, ``http_request_duration_seconds``
    (histogram, labels ``method``, ``route``, ``status``) and
    ``http_requests_in_progress`` in ``registry`` (a new one by default), served at
    ``GET /metrics``. ``route`` is the URL rule (``/items/<int:item_id>``), never the
    raw path, so the number of time series stays bounded.

    Handy attributes in ``app.extensions["observability"]``: ``registry``, ``spans``
    (finished spans, for the tracing demo) and ``samples`` (the last ``keep_samples``
    raw durations in seconds).
    """
    if "observability" in app.extensions:
        raise ValueError(f"app {app.name!r} is already instrumented; build a new app to re-instrument")
    registry = registry if registry is not None else CollectorRegistry()
    service = service or app.name
    labels = ["method", "route", "status"]
    requests_total = Counter("http_requests_total", "HTTP requests handled.", labels, registry=registry)
    duration = Histogram(
        "http_request_duration_seconds", "Time to handle a request.", labels,
        buckets=LATENCY_BUCKETS, registry=registry,
    )
    in_progress = Gauge("http_requests_in_progress", "Requests being handled now.", registry=registry)
    state = {
        "registry": registry,
        "spans": [],
        "samples": deque(maxlen=keep_samples or None) if keep_samples else deque(maxlen=0),
    }
    lock = threading.Lock()
    app.extensions["observability"] = state

    @app.before_request
    def _start():
        g.start = time.perf_counter()
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        match = _TRACEPARENT.match(request.headers.get("traceparent", ""))
        # Join the caller's trace (W3C Trace Context) or start a new one; this span is new.
        g.trace_id = match.group(1) if match else secrets.token_hex(16)
        g.parent_span_id = match.group(2) if match else None
        g.span_id = secrets.token_hex(8)
        if request.path != "/metrics":
            in_progress.inc()

    @app.after_request
    def _finish(response):
        if request.path == "/metrics" or "start" not in g:
            return response
        elapsed = time.perf_counter() - g.start
        in_progress.dec()
        route = request.url_rule.rule if request.url_rule else "unmatched"
        values = (request.method, route, str(response.status_code))
        requests_total.labels(*values).inc()
        duration.labels(*values).observe(elapsed)
        response.headers["X-Request-ID"] = g.request_id
        with lock:
            state["samples"].append(elapsed)
            state["spans"].append({
                "service": service, "name": f"{request.method} {route}", "trace_id": g.trace_id,
                "span_id": g.span_id, "parent_id": g.parent_span_id, "duration": elapsed,
            })
        if logger is not None:
            logger.info(
                "request finished",
                extra={"service": service, "request_id": g.request_id, "trace_id": g.trace_id,
                       "method": request.method, "route": route, "status": response.status_code,
                       "duration_ms": round(elapsed * 1000, 3)},
            )
        return response

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return app


def outgoing_headers() -> dict[str, str]:
    """Headers to send when the current request calls another service.

    Passes on ``X-Request-ID`` and a ``traceparent`` naming the current span as the
    parent. Call it inside a request handler of an :func:`instrument`-ed app.
    """
    if "request_id" not in g:
        raise RuntimeError("outgoing_headers() works inside a request of an instrument()-ed app")
    return {"X-Request-ID": g.request_id, "traceparent": f"00-{g.trace_id}-{g.span_id}-01"}


def histogram_buckets(metrics_text: str, name: str, **labels: str) -> list[tuple[float, float]]:
    """Cumulative ``(upper bound, count)`` pairs of histogram ``name`` in ``/metrics`` text.

    Series whose labels match ``labels`` are summed bucket by bucket (labels not given
    are aggregated away, like PromQL's ``sum by (le)``).
    """
    totals: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name != f"{name}_bucket":
                continue
            if any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            bound = float(sample.labels["le"])
            totals[bound] = totals.get(bound, 0.0) + sample.value
    if not totals:
        raise ValueError(f"no histogram {name!r} with labels {labels} in the metrics text")
    return sorted(totals.items())


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Estimate quantile ``q`` (0..1) from cumulative buckets, as PromQL does.

    Finds the bucket where the rank ``q * total`` falls and interpolates linearly inside
    it, assuming observations are spread evenly in the bucket. The lowest bucket starts
    at 0; a rank in the ``+Inf`` bucket returns the highest finite bound.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q is a fraction between 0 and 1 (0.95 for p95), got {q}")
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != float("inf"):
        raise ValueError("buckets must end with the +Inf bucket, as Prometheus histograms do")
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return buckets[-2][0] if len(buckets) > 1 else float("nan")
