"""Logs, metrics and traces for any Flask app: the plumbing of step 08.

- :class:`JsonFormatter` -- one JSON object per log line, extras (``request_id``...) included.
- :class:`RedactSecrets` -- a logging filter that masks passwords, tokens and keys, in
  the message and in structured (``extra=``) fields.
- :func:`memory_logger` -- a logger writing to an in-memory stream (re-run safe), so a
  notebook can read back what a background server logged.
- :func:`instrument` -- wraps a Flask app with request IDs, W3C ``traceparent`` trace
  context, a JSON access log, and prometheus-client metrics served at ``/metrics``
  from the app's own :class:`~prometheus_client.CollectorRegistry` (never the global
  default one, so building the app twice never raises "Duplicated timeseries").
- :func:`outgoing_headers` -- the headers to pass on when a request handler calls
  another service, so logs and traces can be joined across services.
- :func:`parse_traceparent` -- a W3C ``traceparent`` header checked and split.
- :func:`counter_increase` -- a counter's growth over scrapes, across restarts.
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
    "REQUEST_ID",
    "RedactSecrets",
    "SECRET_NAMES",
    "counter_increase",
    "histogram_buckets",
    "histogram_quantile",
    "instrument",
    "memory_logger",
    "outgoing_headers",
    "parse_traceparent",
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
        if record.exc_info:  # exc_text is the traceback already formatted (and redacted)
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


#: Field names whose values are secrets: matched case-insensitively anywhere in a name,
#: so ``db_password``, ``access_token``, ``X-Api-Key`` and ``client_secret`` count too.
SECRET_NAMES = ("password", "passwd", "pwd", "secret", "token", "api_key", "api-key", "apikey",
                "authorization", "cookie", "session")

_MASK = "***"


class RedactSecrets(logging.Filter):
    """Mask secrets in log records, in the message **and** in structured fields.

    - In the message (formatted first, ``msg % args``, so secrets passed as arguments
      are caught): the value after any ``name=``, ``name: `` or ``"name": `` whose name
      contains one of ``names`` (``password=``, ``db_password=``, ``access_token=``,
      ``"api_key": "..."``, ``Authorization: Bearer ...``), and any bearer/basic
      credential, become ``***``.
    - In fields passed with ``extra={...}``: a field whose name contains one of
      ``names`` is replaced by ``***``; other string fields are redacted like the
      message, and dicts and lists are walked.
    - A traceback is formatted and redacted too.

    The record is kept (the filter returns True). Names match case-insensitively.
    """

    def __init__(self, names: Iterable[str] = SECRET_NAMES) -> None:
        super().__init__()
        alternatives = "|".join(re.escape(n) for n in names)
        self._name = re.compile(rf"(?i)(?:{alternatives})")
        key = rf"[\w.-]*(?:{alternatives})[\w.-]*"
        value = r"""(?P<scheme>(?:bearer|basic)\s+)?(?P<value>"[^"]*"|'[^']*'|[^\s"'&,;]+)"""
        self._pair = re.compile(rf"""(?i)(?P<key>\b{key})(?P<sep>["']?\s*[=:]\s*){value}""")
        self._bearer = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")

    def is_secret_name(self, name: str) -> bool:
        """True if a field called ``name`` holds a secret."""
        return bool(self._name.search(name))

    def _mask_pair(self, match: re.Match) -> str:
        value = match["value"]
        quote = value[0] if value[:1] in "\"'" else ""
        scheme = match["scheme"] or ""
        return f"{match['key']}{match['sep']}{scheme}{quote}{_MASK}{quote}"

    def redact(self, text: str) -> str:
        """``text`` with secret values replaced by ``***``."""
        text = self._pair.sub(self._mask_pair, text)
        return self._bearer.sub(rf"\1 {_MASK}", text)

    def redact_value(self, value: object) -> object:
        """``value`` with secrets masked: strings redacted, dicts and lists walked."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {
                k: _MASK if self.is_secret_name(str(k)) else self.redact_value(v) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_value(v) for v in value)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            setattr(record, key, _MASK if self.is_secret_name(key) else self.redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
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


_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")

#: What an incoming ``X-Request-ID`` may look like to be reused: a UUID, a hex string or
#: a short token. Anything else (markup, newlines, kilobytes) is replaced by a new ID,
#: since the value is echoed in a header and written into every log line.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def parse_traceparent(header: str | None) -> tuple[str, str, str] | None:
    """``(trace_id, parent_span_id, flags)`` from a W3C ``traceparent`` header, or None.

    Follows the W3C Trace Context rules: lowercase hex fields of 32 and 16 characters,
    neither all zeros; version ``ff`` is invalid and version ``00`` has exactly four
    fields (a later version may append more, which are ignored). ``flags`` is kept as
    received (bit 0 is "sampled"): a service passes on its caller's sampling decision.
    """
    match = _TRACEPARENT.match(header or "")
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    return trace_id, parent_id, flags


def instrument(
    app: Flask,
    logger: logging.Logger | None = None,
    registry: CollectorRegistry | None = None,
    service: str | None = None,
    keep_samples: int = 0,
    keep_spans: int = 1000,
) -> Flask:
    """Add request IDs, trace context, an access log and metrics to ``app``; return it.

    For every request: reuse the caller's ``X-Request-ID`` if it is well formed
    (:data:`REQUEST_ID`), else make one, and echo it in the response; join the caller's
    valid W3C ``traceparent`` trace (or start one) with a new span; log one
    JSON-friendly "request finished" line to ``logger`` with
    ``request_id``, ``trace_id``, ``method``, ``route``, ``status``, ``duration_ms``; and
    update the metrics ``http_requests_total``, ``http_request_duration_seconds``
    (histogram, labels ``method``, ``route``, ``status``) and
    ``http_requests_in_progress`` in ``registry`` (a new one by default), served at
    ``GET /metrics``. ``route`` is the URL rule (``/items/<int:item_id>``), never the
    raw path, so the number of time series stays bounded.

    Handy attributes in ``app.extensions["observability"]``: ``registry``, ``spans``
    (the last ``keep_spans`` finished spans, for the tracing demo; bounded, so a busy
    server's memory does not grow) and ``samples`` (the last ``keep_samples`` raw
    durations in seconds).
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
        "spans": deque(maxlen=keep_spans),
        "samples": deque(maxlen=keep_samples or None) if keep_samples else deque(maxlen=0),
    }
    lock = threading.Lock()
    app.extensions["observability"] = state

    @app.before_request
    def _start():
        g.start = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        parent = parse_traceparent(request.headers.get("traceparent"))
        # Join the caller's trace (W3C Trace Context) or start a new one; this span is new.
        g.trace_id, g.parent_span_id, g.trace_flags = parent or (secrets.token_hex(16), None, "01")
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
                "span_id": g.span_id, "parent_id": g.parent_span_id, "flags": g.trace_flags,
                "duration": elapsed,
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
    parent, with the trace flags (the sampling decision) as they were received. Call it
    inside a request handler of an :func:`instrument`-ed app.
    """
    if "request_id" not in g:
        raise RuntimeError("outgoing_headers() works inside a request of an instrument()-ed app")
    return {"X-Request-ID": g.request_id, "traceparent": f"00-{g.trace_id}-{g.span_id}-{g.trace_flags}"}


def counter_increase(values: Iterable[float]) -> float:
    """How much a counter grew over successive scrapes, across restarts.

    A counter only goes up, so a drop between two scrapes means the process restarted
    and the counter began again at 0: the increase over that gap is the new value
    itself, not a negative number. This is what PromQL's ``increase()`` and ``rate()``
    do with the samples in their window (they also extrapolate to the window's edges,
    which this does not).
    """
    values = list(values)
    grown = 0.0
    for before, after in zip(values, values[1:], strict=False):
        grown += after - before if after >= before else after
    return grown


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
