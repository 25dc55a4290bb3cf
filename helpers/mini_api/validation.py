"""Request parsing and validation for the books API, without a schema library.

:func:`json_body` reads a JSON object or raises 400 (malformed) / 415 (not JSON);
:func:`validate_book` checks fields and types and raises
:class:`~helpers.mini_api.problems.ValidationFailed` (422) listing every problem.
"""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from helpers.mini_api.problems import ValidationFailed

__all__ = ["BOOK_FIELDS", "json_body", "validate_book"]

#: field -> (type, required on create)
BOOK_FIELDS: dict[str, tuple[type, bool]] = {
    "title": (str, True),
    "author": (str, True),
    "year": (int, False),
}
MAX_TEXT = 200
_TYPE_NAMES = {str: "a string", int: "an integer"}


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; 415 if it is not JSON, 400 if it is malformed or not an object."""
    if not request.is_json:
        raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    try:
        data = request.get_json(silent=True)  # None if the JSON is malformed...
    except RecursionError:  # ...but silent=True lets this one through: arrays nested 20,000 deep
        data = None
    if data is None:
        raise BadRequest("the body is not valid JSON")
    if not isinstance(data, dict):
        raise BadRequest(f"expected a JSON object, got a JSON {type(data).__name__}")
    return data


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_book(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The cleaned fields of a book; raises ValidationFailed (422) with one entry per problem.

    ``partial=True`` (for PATCH) makes every field optional.
    """
    errors = [{"field": name, "message": "unknown field"} for name in data if name not in BOOK_FIELDS]
    clean: dict[str, Any] = {}
    for name, (kind, required) in BOOK_FIELDS.items():
        if name not in data:
            if required and not partial:
                errors.append({"field": name, "message": "is required"})
            continue
        value = data[name]
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON (and JSON Schema) has one number type: 1990.0 is the integer 1990
        # bool is a subclass of int in Python, but `true` is not a year.
        if not isinstance(value, kind) or isinstance(value, bool):
            errors.append({"field": name, "message": f"must be {_TYPE_NAMES[kind]}"})
        elif kind is str and not _is_utf8(value):
            # "\ud800" (a lone surrogate) is valid JSON, but no database can store it as UTF-8.
            errors.append({"field": name, "message": "must be valid Unicode text"})
        elif kind is str and not value.strip():
            errors.append({"field": name, "message": "must not be blank"})
        elif kind is str and len(value) > MAX_TEXT:
            errors.append({"field": name, "message": f"must be at most {MAX_TEXT} characters"})
        elif name == "year" and not 0 < value <= 2100:
            errors.append({"field": name, "message": "must be between 1 and 2100"})
        else:
            clean[name] = value.strip() if kind is str else value
    if errors:
        raise ValidationFailed(errors)
    return clean
