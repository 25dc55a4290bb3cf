"""Middleware for the books API: request hooks (request ID, timing) and a plain WSGI middleware.

Flask's ``before_request`` / ``after_request`` hooks run inside Flask, with
``request`` and ``g`` available. A WSGI middleware wraps the whole app from the
outside and sees only the ``environ`` dict and ``start_response``: it is what
Flask itself is built on, and works for any WSGI app.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable

from flask import Flask, Response, g, request

__all__ = ["REQUEST_ID_HEADER", "StatusCounter", "register_request_hooks"]

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's ID only if it is short and plain, so it is safe to log and echo.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def register_request_hooks(app: Flask) -> None:
    """Give every request an ID (``g.request_id``, echoed in ``X-Request-ID``), time it, add ``nosniff``."""

    @app.before_request
    def start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        # Browsers must not guess ("sniff") another media type than the one we declare:
        # a JSON body containing <script> must never be run as HTML.
        response.headers["X-Content-Type-Options"] = "nosniff"
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        if "started" in g:
            elapsed_ms = (time.perf_counter() - g.started) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.2f}"
        return response


class StatusCounter:
    """WSGI middleware counting responses by status code: ``StatusCounter(app).counts``."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.counts: Counter[int] = Counter()
        self._lock = threading.Lock()  # a threaded server calls us from many threads

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def counting_start_response(status: str, headers: list, exc_info: object = None) -> Callable:
            with self._lock:
                self.counts[int(status.split()[0])] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counting_start_response)
