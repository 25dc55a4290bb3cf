"""JSON error bodies in the problem-details shape (RFC 9457).

Every error the API returns, whatever raised it, has the media type
``application/problem+json`` and a body such as::

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "no book with id 7"}

:class:`ValidationFailed` carries a list of per-field ``errors`` (an extension
member, which RFC 9457 allows) and answers 422.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, json
from werkzeug.exceptions import HTTPException, UnprocessableEntity

__all__ = ["PROBLEM_JSON", "ValidationFailed", "problem", "register_error_handlers"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str | None = None, **extra: object) -> Response:
    """A problem-details response: ``type``, ``title``, ``status``, ``detail`` plus ``extra`` members."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


class ValidationFailed(UnprocessableEntity):
    """422: the JSON was well formed but its content is wrong; ``errors`` says where."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(f"{len(errors)} field(s) failed validation")
        self.errors = errors


def register_error_handlers(app: Flask) -> None:
    """Turn every HTTP error (and any unexpected exception) into a problem-details body."""

    @app.errorhandler(ValidationFailed)
    def validation_failed(error: ValidationFailed) -> Response:
        return problem(422, "Unprocessable Content", error.description, errors=error.errors)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = problem(error.code or 500, error.name, error.description)
        # Keep the headers the exception carries: Allow on a 405 (RFC 9110), WWW-Authenticate
        # on a 401, Retry-After on a 429 or 503. Only the body and its media type change.
        for name, value in error.get_response().headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers.add(name, value)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # The details go to the log, never to the client (they can leak internals).
        log.error("unhandled error", exc_info=error)
        return problem(500, "Internal Server Error", "an unexpected error occurred")
