"""One JSON shape for every error: ``{"error": "..."}`` with the right status code."""

from flask import jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter


class ApiError(Exception):
    """An error a view raises to answer ``status`` with ``message``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def api_error(error):
    return jsonify(error=error.message), error.status


def http_error(error: HTTPException):
    """Werkzeug's errors (404, 405, 413 ...) as JSON, keeping their headers (``Allow``)."""
    response = jsonify(error=error.name)
    response.status_code = error.code
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def json_body(request):
    """The request's JSON object, or a 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def text_field(body, name, max_length):
    """``body[name]``: a string of 1 to ``max_length`` characters, not blank, or a 400."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError(400, f"{name} must be a non-blank string of at most {max_length} characters")
    return value.strip()


def int_field(body, name, low, high):
    """``body[name]``: a whole number from ``low`` to ``high`` (not a bool, not a float), or a 400."""
    value = body.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
    return value


class IdConverter(BaseConverter):
    """``<id:name>`` in a route: a row id of 1 to 9 digits, no leading zero. Anything else
    is a 404 before it reaches the database (a 25-digit id would overflow the column)."""

    regex = r"[1-9][0-9]{0,8}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)
