"""The books endpoint in FastAPI: a pydantic model validates, FastAPI answers 422 and documents it.

Declaring the body as ``BookIn`` is all the validation code there is: FastAPI parses the
JSON, pydantic checks it against the model, and a failure becomes a 422 before the
endpoint runs. The same model feeds the OpenAPI document at ``/openapi.json``.
FastAPI's own error body is ``{"detail": [...]}``; two handlers reshape errors into the
problem details (RFC 9457) the rest of step 04 uses, so the three apps answer alike.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

PROBLEM_JSON = "application/problem+json"
#: A character that is not whitespace to Python's str.strip() (which also strips \x1c-\x1f, \x85).
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"


def _number_not_text(value: Any) -> Any:
    """Refuse what only looks like a year ("1965", true); numbers go on to int's own checks."""
    if isinstance(value, (str, bool)):
        raise ValueError("Input should be a valid integer")
    return value


class BookIn(BaseModel):
    """What a client sends: unknown fields are refused, text is stripped before the length checks."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # The pattern puts "not blank" in the OpenAPI schema too: one character str.strip() keeps.
    title: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    author: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    # Lax mode would accept "1965" and turn `true` into the year 1; strict mode would refuse
    # 1965.0, which JSON (and the OpenAPI document's "integer") count as the integer 1965.
    year: Annotated[int, Field(ge=1, le=2100), BeforeValidator(_number_not_text)] | None = None


class Book(BookIn):
    """What the server returns: the fields plus the id it chose."""

    id: int


class Problem(BaseModel):
    """An error body (RFC 9457 problem details), declared so that the OpenAPI document shows it."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


def documented_problem(description: str) -> dict[str, Any]:
    """An entry of ``responses=``: this status answers with a problem-details body."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    # RFC 9110's names; Python < 3.13 still says "Request Entity Too Large", "Unprocessable Entity".
    title = {413: "Content Too Large", 422: "Unprocessable Content"}.get(status) or HTTPStatus(status).phrase
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def create_fastapi_app() -> FastAPI:
    """A fresh app with an empty, in-memory store of books."""
    app = FastAPI(title="Books (FastAPI)", version="1.0.0")
    # Starlette reads a body of any size unless told otherwise: over 64 KiB is a 413.
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=64 * 1024)
    books: dict[int, Book] = {}

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        # loc is ("body", "title") for a field, ("body",) for the body as a whole.
        errors = [{"field": str(e["loc"][-1]), "message": e["msg"]} for e in exc.errors()]
        return problem(422, f"{len(errors)} field(s) failed validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)  # keeps Allow on a 405

    # Declaring the error responses replaces FastAPI's default 422 entry ({"detail": [...]}).
    @app.post("/books", status_code=201, response_model=Book, responses={
        400: documented_problem("The body is not JSON (malformed, or not UTF-8)"),
        413: {"description": "Body over 64 KiB"}, 422: documented_problem("Validation failed")})
    async def create_book(book: BookIn, response: Response) -> Book:
        created = Book(id=len(books) + 1, **book.model_dump())
        books[created.id] = created
        response.headers["Location"] = f"/books/{created.id}"
        return created

    @app.get("/books/{book_id}", response_model=Book, responses={
        404: documented_problem("No such book"), 422: documented_problem("The id is not an integer")})
    async def read_book(book_id: int) -> Book:
        if book_id not in books:
            raise HTTPException(404, f"no book with id {book_id}")
        return books[book_id]

    return app
