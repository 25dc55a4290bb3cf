"""An OpenAPI 3.1 description of the books API, written as a Python dict."""

from __future__ import annotations

from typing import Any

from flask import Flask

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
    book_id = _param("book_id", "path", {"type": "integer"}, "the book's id")
    body_schema = {"$ref": "#/components/schemas/BookInput"}
    body = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    ok = {"description": "the book", "content": {"application/json": {"schema": book_ref}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mini books API", "version": "1.0.0"},
        "paths": {
            "/books": {
                "get": _op("List books, paginated", {
                    "200": {"description": "a page of books", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BookPage"}}}},
                    "400": _PROBLEM}, parameters=[
                    _param("page", "query", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
                    _param("per_page", "query", {"type": "integer", "minimum": 1,
                                                 "maximum": app.config["PER_PAGE_MAX"], "default": 10},
                           "books per page"),
                    _param("author", "query", {"type": "string"}, "only this author's books"),
                    _param("q", "query", {"type": "string"}, "text the title contains"),
                ]),
                "post": _op("Create a book", {"201": ok, "400": _PROBLEM, "413": _PROBLEM, "415": _PROBLEM,
                                              "422": _PROBLEM}, requestBody=body),
            },
            "/books/{book_id}": {
                "parameters": [book_id],
                "get": _op("Read a book", {"200": ok, "404": _PROBLEM}),
                "patch": _op("Update some fields of a book", {"200": ok, "404": _PROBLEM, "422": _PROBLEM},
                             requestBody=body),
                "delete": _op("Delete a book", {"204": {"description": "deleted"}, "404": _PROBLEM}),
            },
            "/healthz": {"get": _op("Liveness", {"200": {"description": "the process is up"}})},
            "/readyz": {"get": _op("Readiness", {"200": {"description": "ready"}, "503": _PROBLEM})},
        },
        "components": {
            "schemas": {
                "BookInput": {"type": "object", "additionalProperties": False,
                              "required": ["title", "author"],
                              "properties": {"title": {"type": "string", "maxLength": 200},
                                             "author": {"type": "string", "maxLength": 200},
                                             "year": {"type": "integer", "minimum": 1, "maximum": 2100}}},
                "Book": {"allOf": [{"$ref": "#/components/schemas/BookInput"},
                                   {"type": "object", "properties": {"id": {"type": "integer"}}}]},
                "BookPage": {"type": "object", "properties": {
                    "items": {"type": "array", "items": book_ref}, "page": {"type": "integer"},
                    "per_page": {"type": "integer"}, "total": {"type": "integer"},
                    "links": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "Problem": {"type": "object", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}}},
            },
            "responses": {"Problem": {"description": "an error (RFC 9457 problem details)",
                                      "content": {"application/problem+json": {
                                          "schema": {"$ref": "#/components/schemas/Problem"}}}}},
        },
    }
