"""An OpenAPI 3.1 description of the books API, written as a Python dict."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpers.mini_api.books import MAX_ID, MAX_PAGE

__all__ = ["openapi_document"]

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": description}


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for ``app`` (limits such as ``per_page`` come from its config)."""
    book_ref = {"$ref": "#/components/schemas/Book"}
    book_id = _param("book_id", "path", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "the book's id")

    def body(schema: str) -> dict[str, Any]:
        return {"required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}

    ok = {"description": "the book", "content": {"application/json": {"schema": book_ref}}}
    created = {**ok, "headers": {"Location": {"description": "the new book's URL",
                                              "schema": {"type": "string"}}}}
    # The errors every request with a JSON body can get: malformed (400), too large (413),
    # not JSON (415), valid JSON with wrong fields (422).
    body_errors = {code: _PROBLEM for code in ("400", "413", "415", "422")}
    text = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
    fields = {"title": text, "author": text, "year": {"type": "integer", "minimum": 1, "maximum": 2100}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mini books API", "version": "1.0.0"},
        "paths": {
            "/books": {
                "get": _op("List books, paginated", {
                    "200": {"description": "a page of books", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BookPage"}}}},
                    "400": _PROBLEM}, parameters=[
                    _param("page", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                             "default": 1}, "page number"),
                    _param("per_page", "query", {"type": "integer", "minimum": 1,
                                                 "maximum": app.config["PER_PAGE_MAX"], "default": 10},
                           "books per page"),
                    _param("author", "query", {"type": "string"}, "only this author's books"),
                    _param("q", "query", {"type": "string"}, "text the title contains"),
                ]),
                "post": _op("Create a book", {"201": created, **body_errors}, requestBody=body("BookInput")),
            },
            "/books/{book_id}": {
                "parameters": [book_id],
                "get": _op("Read a book", {"200": ok, "404": _PROBLEM}),
                "patch": _op("Update some fields of a book", {"200": ok, "404": _PROBLEM, **body_errors},
                             requestBody=body("BookPatch")),
                "delete": _op("Delete a book", {"204": {"description": "deleted"}, "404": _PROBLEM}),
            },
            "/healthz": {"get": _op("Liveness", {"200": {"description": "the process is up"}})},
            "/readyz": {"get": _op("Readiness", {"200": {"description": "ready"}, "503": _PROBLEM})},
        },
        "components": {
            "schemas": {
                # What a client sends to create a book: title and author required.
                "BookInput": {"type": "object", "additionalProperties": False,
                              "required": ["title", "author"], "properties": fields},
                # PATCH: any subset of the same fields (an empty object changes nothing).
                "BookPatch": {"type": "object", "additionalProperties": False, "properties": fields},
                # What the server returns: every field, with the server's id; year may be null.
                # (Not allOf + BookInput: BookInput's additionalProperties: false would reject "id".)
                "Book": {"type": "object", "additionalProperties": False,
                         "required": ["id", "title", "author", "year"],
                         "properties": {"id": {"type": "integer", "minimum": 1},
                                        "title": {"type": "string"}, "author": {"type": "string"},
                                        "year": {"type": ["integer", "null"]}}},
                "BookPage": {"type": "object", "required": ["items", "page", "per_page", "total", "links"],
                             "properties": {
                    "items": {"type": "array", "items": book_ref}, "page": {"type": "integer"},
                    "per_page": {"type": "integer"}, "total": {"type": "integer"},
                    "links": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "request_id": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}}}},
            },
            "responses": {"Problem": {"description": "an error (RFC 9457 problem details)",
                                      "content": {"application/problem+json": {
                                          "schema": {"$ref": "#/components/schemas/Problem"}}}}},
        },
    }
