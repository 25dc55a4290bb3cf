"""A tiny REST API of notes, for step 02's tour of resource design.

It shows the conventions, not a framework (step 04 builds an API properly):
resources under a versioned prefix (``/v1/notes``), a status code per CRUD outcome,
filtering (``?tag=``), offset and cursor pagination, and idempotency keys on
``POST``::

    from helpers.rest_demo import create_app
    from helpers.servers import serve
    api = serve(create_app(seed=25), name="notes-api")

:data:`OPENAPI` describes the same API in OpenAPI 3.1.
"""

from __future__ import annotations

import threading

from flask import Flask, jsonify, request, url_for

__all__ = ["OPENAPI", "create_app"]

TAGS = ("work", "home", "ideas")


def create_app(seed: int = 0) -> Flask:
    """The notes API with ``seed`` notes already stored (ids 1..seed, tags in turn)."""
    app = Flask("notes-api")
    notes: dict[int, dict] = {}
    replies: dict[str, tuple[dict, tuple]] = {}  # idempotency key -> (request body, response)
    lock = threading.Lock()
    next_id = [1]

    def store(title: str, tag: str) -> dict:
        note = {"id": next_id[0], "title": title, "tag": tag}
        notes[note["id"]] = note
        next_id[0] += 1
        return note

    for n in range(1, seed + 1):
        store(f"note {n}", TAGS[(n - 1) % len(TAGS)])

    def problem(status: int, title: str, detail: str):
        response = jsonify({"type": "about:blank", "title": title, "status": status, "detail": detail})
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response

    def validated(body: object) -> dict | None:
        if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"]:
            return None
        if body.get("tag", "work") not in TAGS:
            return None
        return {"title": body["title"], "tag": body.get("tag", "work")}

    def int_arg(name: str, default: int, low: int, high: int) -> int:
        value = request.args.get(name, default, type=int)
        return max(low, min(high, value))

    @app.get("/v1/notes")
    def list_notes():
        tag = request.args.get("tag")
        limit = int_arg("limit", 10, 1, 100)
        with lock:
            rows = [n for n in sorted(notes.values(), key=lambda n: n["id"]) if tag in (None, n["tag"])]
        if "cursor" in request.args:  # keyset: "the ones after id N", stable under inserts
            after = request.args.get("cursor", 0, type=int)
            page = [n for n in rows if n["id"] > after][:limit]
            more = bool(page) and page[-1]["id"] < rows[-1]["id"]
            return {"items": page, "next_cursor": page[-1]["id"] if more else None}
        offset = int_arg("offset", 0, 0, 10**9)
        return {"items": rows[offset:offset + limit], "offset": offset, "limit": limit,
                "total": len(rows)}

    @app.post("/v1/notes")
    def create_note():
        body = request.get_json(silent=True)
        data = validated(body)
        if data is None:
            return problem(422, "Invalid note", "send JSON with a non-empty title and a tag in "
                           f"{list(TAGS)}")
        key = request.headers.get("Idempotency-Key")
        with lock:
            if key and key in replies:
                first_body, response = replies[key]
                if first_body != data:
                    return problem(422, "Idempotency-Key reused",
                                   "this key was used with a different request body")
                return response  # the same answer again: no second note
            note = store(**data)
            response = (note, 201, {"Location": url_for("get_note", note_id=note["id"])})
            if key:
                replies[key] = (data, response)
        return response

    @app.get("/v1/notes/<int:note_id>")
    def get_note(note_id: int):
        note = notes.get(note_id)
        if note is None:
            return problem(404, "Not found", f"no note {note_id}")
        return note

    @app.put("/v1/notes/<int:note_id>")
    def replace_note(note_id: int):
        data = validated(request.get_json(silent=True))
        if data is None:
            return problem(422, "Invalid note", "send JSON with a non-empty title and a valid tag")
        with lock:
            if note_id not in notes:
                return problem(404, "Not found", f"no note {note_id}")
            notes[note_id] = {"id": note_id, **data}
        return notes[note_id]

    @app.delete("/v1/notes/<int:note_id>")
    def delete_note(note_id: int):
        with lock:
            if notes.pop(note_id, None) is None:
                return problem(404, "Not found", f"no note {note_id}")
        return "", 204

    return app


_NOTE = {
    "type": "object",
    "required": ["id", "title", "tag"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string", "minLength": 1},
        "tag": {"type": "string", "enum": list(TAGS)},
    },
}

#: The notes API in OpenAPI 3.1 (a Python dict; ``yaml.safe_dump(OPENAPI)`` prints it).
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Notes API", "version": "1.0.0"},
    "servers": [{"url": "/v1"}],
    "paths": {
        "/notes": {
            "get": {
                "summary": "List notes, newest last",
                "parameters": [
                    {"name": "tag", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                    {"name": "cursor", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": {"description": "A page of notes"}},
            },
            "post": {
                "summary": "Create a note",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}},
                },
                "responses": {"201": {"description": "Created; Location names the new note"},
                              "422": {"description": "Invalid note (problem details)"}},
            },
        },
        "/notes/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {"summary": "One note", "responses": {"200": {"description": "The note"},
                                                         "404": {"description": "No such note"}}},
            "put": {"summary": "Replace a note", "responses": {"200": {"description": "Replaced"}}},
            "delete": {"summary": "Delete a note", "responses": {"204": {"description": "Deleted"}}},
        },
    },
    "components": {"schemas": {"Note": _NOTE}},
}
