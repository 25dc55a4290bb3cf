"""A tiny REST API of notes, for step 02's tour of resource design.

It shows the conventions, not a framework (step 04 builds an API properly):
resources under a versioned prefix (``/v1/notes``), a status code per CRUD outcome,
filtering (``?tag=``), offset and cursor pagination, idempotency keys on ``POST``,
and hypermedia links (HATEOAS): every note and every page carries a ``_links`` object
(``self``, ``collection``; ``next`` and ``prev`` on pages), so a client follows links
instead of building URLs::

    from helpers.rest_demo import create_app
    from helpers.servers import serve
    api = serve(create_app(seed=25), name="notes-api")

:data:`OPENAPI` describes the same API in OpenAPI 3.1.
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus

from flask import Flask, Response, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

__all__ = ["CONTRACT_BREAKS", "OPENAPI", "create_app", "create_broken_app"]

TAGS = ("work", "home", "ideas")


#: RFC 9457: with ``type: about:blank`` the ``title`` must be the status code's standard phrase.
#: A problem of our own gets its own ``type`` URI (a ``tag:`` URI need not resolve) and title.
IDEMPOTENCY_REUSED = "tag:notes-api.example,2026:idempotency-key-reused"
#: RFC 9110's reason phrases (Python's HTTPStatus says "Unprocessable Entity" before 3.13).
_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 415: "Unsupported Media Type",
           422: "Unprocessable Content"}
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: "²".isdigit() is True, int("²") raises


class _Problem(Exception):
    """Raised inside a view; answered as application/problem+json."""

    def __init__(self, status: int, detail: str, type_: str = "about:blank", title: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.type, self.title = status, detail, type_, title


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

    def link(endpoint: str, **values: object) -> dict:
        """A HAL link object; the href is relative (like Location), resolved against the request URL."""
        return {"href": url_for(endpoint, **values)}

    def represent(note: dict) -> dict:
        """The note as clients see it: its fields, then where it lives and where its collection is."""
        return {**note, "_links": {"self": link("get_note", note_id=note["id"]),
                                   "collection": link("list_notes")}}

    def problem(status: int, detail: str, type_: str = "about:blank", title: str | None = None):
        title = title or _TITLES.get(status, HTTPStatus(status).phrase)
        body = {"type": type_, "title": title, "status": status, "detail": detail}
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response

    @app.errorhandler(_Problem)
    def answer_problem(error: _Problem):
        return problem(error.status, error.detail, error.type, error.title)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # 404 for unknown URLs, 405 with Allow, ...
        response = problem(error.code or 500, error.description)
        for name, value in error.get_response().headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers.add(name, value)
        return response

    def note_body() -> dict:
        """The request's note: 415 if not JSON, 400 if malformed, 422 if the fields are wrong."""
        if not request.is_json:
            raise _Problem(415, "send the note as JSON (Content-Type: application/json)")
        try:
            body = request.get_json(silent=True)  # None if the JSON is malformed...
        except RecursionError:  # ...but silent=True lets this one through: arrays nested 20,000 deep
            body = None
        if body is None:
            raise _Problem(400, "the body is not valid JSON")
        if not isinstance(body, dict):
            raise _Problem(400, "the body must be a JSON object")
        title, tag = body.get("title"), body.get("tag", "work")
        if not isinstance(title, str) or not title.strip() or tag not in TAGS:
            raise _Problem(422, f"send a non-empty title and a tag in {list(TAGS)}")
        return {"title": title, "tag": tag}

    def int_arg(name: str, default: int, low: int, high: int, empty_is_default: bool = False) -> int:
        """A whole-number query parameter in [low, high]; anything else is a 400 (no silent default).

        Absent means ``default``; present but empty (``?offset=``) is as wrong as ``?offset=abc``,
        except where the API defines empty (``?cursor=`` asks for the first page).
        """
        raw = request.args.get(name)
        if raw is None or (raw == "" and empty_is_default):
            return default
        if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
            raise _Problem(400, f"{name} must be a whole number from {low} to {high}, got {raw!r}")
        return int(raw)

    @app.get("/v1/notes")
    def list_notes():
        tag = request.args.get("tag")
        limit = int_arg("limit", 10, 1, 100)
        offset = int_arg("offset", 0, 0, MAX_ID)  # checked even when a cursor makes it unused
        with lock:
            rows = [n for n in sorted(notes.values(), key=lambda n: n["id"]) if tag in (None, n["tag"])]
        query = {"tag": tag} if tag is not None else {}
        if "cursor" in request.args:  # keyset: "the ones after id N", stable under inserts
            after = int_arg("cursor", 0, 0, MAX_ID, empty_is_default=True)
            page = [n for n in rows if n["id"] > after][:limit]
            more = bool(page) and page[-1]["id"] < rows[-1]["id"]
            links = {"self": link("list_notes", **query, cursor=after, limit=limit)}
            if more:  # a cursor only goes forward: there is no prev link to give
                links["next"] = link("list_notes", **query, cursor=page[-1]["id"], limit=limit)
            return {"items": [represent(n) for n in page], "next_cursor": page[-1]["id"] if more else None,
                    "_links": links}
        links = {"self": link("list_notes", **query, offset=offset, limit=limit)}
        if offset + limit < len(rows):
            links["next"] = link("list_notes", **query, offset=offset + limit, limit=limit)
        if offset > 0:
            links["prev"] = link("list_notes", **query, offset=max(0, min(offset, len(rows)) - limit),
                                 limit=limit)
        return {"items": [represent(n) for n in rows[offset:offset + limit]], "offset": offset,
                "limit": limit, "total": len(rows), "_links": links}

    @app.post("/v1/notes")
    def create_note():
        data = note_body()
        key = request.headers.get("Idempotency-Key")
        with lock:
            if key and key in replies:
                first_body, response = replies[key]
                if first_body != data:
                    raise _Problem(422, "this Idempotency-Key was used with a different request body",
                                   IDEMPOTENCY_REUSED, "Idempotency-Key reused")
                return response  # the same answer again: no second note
            note = store(**data)
            response = (represent(note), 201, {"Location": url_for("get_note", note_id=note["id"])})
            if key:
                replies[key] = (data, response)
        return response

    @app.get("/v1/notes/<int:note_id>")
    def get_note(note_id: int):
        note = notes.get(note_id)
        if note is None:
            raise _Problem(404, f"no note {note_id}")
        return represent(note)

    @app.put("/v1/notes/<int:note_id>")
    def replace_note(note_id: int):
        data = note_body()
        with lock:
            if note_id not in notes:
                raise _Problem(404, f"no note {note_id}")
            notes[note_id] = {"id": note_id, **data}
            return represent(notes[note_id])

    @app.delete("/v1/notes/<int:note_id>")
    def delete_note(note_id: int):
        with lock:
            if notes.pop(note_id, None) is None:
                raise _Problem(404, f"no note {note_id}")
        return "", 204

    return app


#: Ways a release can break what clients rely on, each the kind of change a refactor makes
#: by accident (a collection of requests with assertions catches every one of them).
CONTRACT_BREAKS = {
    "create-200": "POST /v1/notes answers 200 instead of 201",
    "no-location": "POST /v1/notes answers without a Location header",
    "title-renamed": "notes carry `name` instead of `title` (a renamed field)",
    "validation-400": "an invalid note is answered 400 instead of 422",
    "errors-as-html": "errors come as an HTML page instead of application/problem+json",
    "delete-200": "DELETE answers 200 with a body instead of 204",
    "delete-keeps": "DELETE answers 204 but the note is still there",
}


def create_broken_app(defect: str, seed: int = 0) -> Flask:
    """The notes API with one contract break from :data:`CONTRACT_BREAKS` (for testing tests).

    Everything else behaves as :func:`create_app`; each break is a small hook around it.
    """
    if defect not in CONTRACT_BREAKS:
        raise ValueError(f"unknown defect {defect!r}; choose from {sorted(CONTRACT_BREAKS)}")
    app = create_app(seed)

    @app.before_request
    def keep_deleted_notes() -> tuple[str, int] | None:
        if defect == "delete-keeps" and request.method == "DELETE":
            return "", 204  # answers as if deleted, deletes nothing
        return None

    @app.after_request
    def break_contract(response: Response) -> Response:
        created = request.method == "POST" and response.status_code == 201
        if defect == "create-200" and created:
            response.status_code = 200
        elif defect == "no-location" and created:
            del response.headers["Location"]
        elif defect == "title-renamed" and response.mimetype == "application/json":
            response.set_data(json.dumps(_rename(response.get_json(), "title", "name")))
        elif defect == "validation-400" and response.status_code == 422:
            response.status_code = 400
            response.set_data(json.dumps({**response.get_json(), "status": 400}))
        elif defect == "errors-as-html" and response.status_code >= 400:
            response.set_data(f"<h1>Error {response.status_code}</h1>")
            response.mimetype = "text/html"
        elif defect == "delete-200" and request.method == "DELETE" and response.status_code == 204:
            response.status_code = 200
            response.set_data(json.dumps({"deleted": True}))
            response.mimetype = "application/json"
        return response

    return app


def _rename(data: object, old: str, new: str) -> object:
    """data with every dict key ``old`` renamed ``new``, at any depth."""
    if isinstance(data, dict):
        return {new if k == old else k: _rename(v, old, new) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename(item, old, new) for item in data]
    return data


MAX_ID = 2**63 - 1
_PROBLEM = {"description": "problem details (RFC 9457)",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_NOTE_REF = {"$ref": "#/components/schemas/Note"}
_INPUT = {"required": True,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NoteInput"}}}}
_BODY_ERRORS = {"400": _PROBLEM, "415": _PROBLEM, "422": _PROBLEM}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_LINK = {"type": "object", "required": ["href"],
         "properties": {"href": {"type": "string",
                                 "description": "a URI reference: resolve it against the request URL"}}}
_LINK_REF = {"$ref": "#/components/schemas/Link"}
_NOTE = {
    "type": "object",
    "required": ["id", "title", "tag", "_links"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "minLength": 1},
        "tag": {"type": "string", "enum": list(TAGS)},
        "_links": {"type": "object", "required": ["self", "collection"],
                   "description": "HAL-style links: where this note lives, and its collection",
                   "properties": {"self": _LINK_REF, "collection": _LINK_REF}},
    },
}
# What a client sends: no id (the server chooses it); tag defaults to "work".
_NOTE_INPUT = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "pattern": r"\S"},
        "tag": {"type": "string", "enum": list(TAGS), "default": "work"},
    },
}
_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"}},
}
_PAGE = {
    "type": "object",
    "required": ["items", "_links"],
    "properties": {
        "items": {"type": "array", "items": _NOTE_REF},
        "offset": {"type": "integer"}, "limit": {"type": "integer"}, "total": {"type": "integer"},
        "next_cursor": {"type": ["integer", "null"]},
        "_links": {"type": "object", "required": ["self"],
                   "description": "this page; next and prev when there are such pages (a cursor has no prev)",
                   "properties": {"self": _LINK_REF, "next": _LINK_REF, "prev": _LINK_REF}},
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
                "summary": "List notes, oldest first",
                "parameters": [
                    _query("tag", {"type": "string"}, "only notes with this tag"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                           "notes per page"),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
                           "offset pagination: skip this many notes"),
                    _query("cursor", {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                           "cursor pagination: the notes after this id (replaces offset)"),
                ],
                "responses": {"200": _json("A page of notes", {"$ref": "#/components/schemas/NotePage"}),
                              "400": _PROBLEM},
            },
            "post": {
                "summary": "Create a note",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"},
                                "description": "a retry with the same key replays the first answer"}],
                "requestBody": _INPUT,
                "responses": {"201": {**_json("Created", _NOTE_REF), "headers": {
                                  "Location": {"description": "the new note", "schema": {"type": "string"}}}},
                              **_BODY_ERRORS},
            },
        },
        "/notes/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0}}],
            "get": {"summary": "One note",
                    "responses": {"200": _json("The note", _NOTE_REF), "404": _PROBLEM}},
            "put": {"summary": "Replace a note", "requestBody": _INPUT,
                    "responses": {"200": _json("Replaced", _NOTE_REF), "404": _PROBLEM, **_BODY_ERRORS}},
            "delete": {"summary": "Delete a note",
                       "responses": {"204": {"description": "Deleted"}, "404": _PROBLEM}},
        },
    },
    "components": {"schemas": {"Note": _NOTE, "NoteInput": _NOTE_INPUT, "NotePage": _PAGE,
                               "Link": _LINK, "Problem": _PROBLEM_SCHEMA}},
}
