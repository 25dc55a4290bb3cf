"""The books endpoint in Flask: an app factory, checks written by hand, problem-details errors.

Flask validates nothing for you: every check below is code you write (the full version
is ``helpers/mini_api/validation.py``). ``POST /books`` creates a book, ``GET
/books/<id>`` reads one; errors are RFC 9457 problem details, as in the rest of step 04.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, NotFound

PROBLEM_JSON = "application/problem+json"
FIELDS = {"title", "author", "year"}


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def book_errors(data: dict[str, Any]) -> list[dict[str, str]]:
    """One ``{"field", "message"}`` per problem, like the other two frameworks report them."""
    errors = [{"field": name, "message": "unknown field"} for name in data if name not in FIELDS]
    for name in ("title", "author"):
        value = data.get(name)
        if value is None:
            errors.append({"field": name, "message": "is required"})
        elif not isinstance(value, str) or not value.strip():
            errors.append({"field": name, "message": "must be a non-blank string"})
        elif len(value.strip()) > 200:
            errors.append({"field": name, "message": "must be at most 200 characters"})
    year = whole_year(data.get("year"))
    # bool is a subclass of int, so `true` would pass a plain isinstance check.
    if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not 1 <= year <= 2100):
        errors.append({"field": "year", "message": "must be an integer from 1 to 2100"})
    return errors


def whole_year(year: Any) -> Any:
    """1965.0 is the JSON number 1965 (as the OpenAPI "integer" says); anything else as it came."""
    return int(year) if isinstance(year, float) and year.is_integer() else year


def create_flask_app() -> Flask:
    """A fresh app with an empty, in-memory store of books."""
    app = Flask("books_flask")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # a bigger body is a 413 before we read it
    books: dict[int, dict[str, Any]] = {}

    @app.errorhandler(HTTPException)
    def http_problem(error: HTTPException) -> Response:
        response = problem(error.code or 500, error.name, error.description or "")
        for name, value in error.get_headers():  # keeps Allow on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.post("/books")
    def create_book() -> Response | tuple[dict[str, Any], int, dict[str, str]]:
        if not request.is_json:
            return problem(415, "Unsupported Media Type", "send JSON with Content-Type: application/json")
        try:
            data = request.get_json(silent=True)  # None if the JSON is malformed...
        except RecursionError:  # ...but silent=True lets this one through: arrays nested 20,000 deep
            data = None
        if not isinstance(data, dict):
            return problem(400, "Bad Request", "send a JSON object")
        if errors := book_errors(data):
            detail = f"{len(errors)} field(s) failed validation"
            return problem(422, "Unprocessable Content", detail, errors=errors)
        book = {"id": len(books) + 1, "title": data["title"].strip(), "author": data["author"].strip(),
                "year": whole_year(data.get("year"))}
        books[book["id"]] = book
        return book, 201, {"Location": f"/books/{book['id']}"}

    @app.get("/books/<int:book_id>")
    def read_book(book_id: int) -> dict[str, Any]:
        if book_id not in books:
            raise NotFound(f"no book with id {book_id}")
        return books[book_id]

    return app
