"""The ``books`` blueprint: create, list (paginated, filtered), read, update, delete."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import func, select
from werkzeug.exceptions import BadRequest, NotFound

from helpers.mini_api.db import Book, get_session
from helpers.mini_api.validation import json_body, validate_book

__all__ = ["MAX_ID", "MAX_PAGE", "bp", "page_links"]

bp = Blueprint("books", __name__, url_prefix="/books")

#: Largest id a route accepts: SQL databases store ids as signed 64-bit integers, and
#: SQLite raises OverflowError (a 500) for anything bigger, so such an id is simply not found.
MAX_ID = 2**63 - 1
#: Largest page number: (page - 1) * per_page must stay a 64-bit OFFSET.
MAX_PAGE = 1_000_000
# ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then rejects (a 500).
_DIGITS = re.compile(r"[0-9]{1,20}")


def _int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise BadRequest(f"query parameter {name!r} must be a positive integer, got {raw!r}")
    value = int(raw)
    if value > maximum:
        raise BadRequest(f"query parameter {name!r} must be at most {maximum}, got {value}")
    return value


def page_links(base: str, page: int, per_page: int, total: int, params: dict[str, str]) -> dict[str, str]:
    """``self``/``first``/``last`` links, plus ``prev`` and ``next`` where those pages exist."""
    last = max(1, -(-total // per_page))

    def link(p: int) -> str:
        return f"{base}?{urlencode({**params, 'page': p, 'per_page': per_page})}"

    links = {"self": link(page), "first": link(1), "last": link(last)}
    if page > 1:
        links["prev"] = link(min(page - 1, last))
    if page < last:
        links["next"] = link(page + 1)
    return links


def _find(book_id: int) -> Book:
    # An id beyond 64 bits cannot exist; SQLite would raise OverflowError (a 500) for it.
    book = get_session().get(Book, book_id) if book_id <= MAX_ID else None
    if book is None:
        raise NotFound(f"no book with id {book_id}")
    return book


@bp.get("")
def list_books() -> Response:
    """Books, ``per_page`` at a time; filter with ``author=`` (exact) and ``q=`` (in the title)."""
    page = _int_arg("page", 1, maximum=MAX_PAGE)
    per_page = _int_arg("per_page", 10, maximum=current_app.config["PER_PAGE_MAX"])
    query = select(Book)
    filters = {}
    if author := request.args.get("author"):
        query = query.where(Book.author == author)  # bound parameters, never string-built SQL
        filters["author"] = author
    if q := request.args.get("q"):
        query = query.where(Book.title.contains(q, autoescape=True))
        filters["q"] = q
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Book.id).limit(per_page).offset((page - 1) * per_page))
    links = page_links(url_for("books.list_books"), page, per_page, total, filters)
    body = {"items": [b.to_dict() for b in rows], "page": page, "per_page": per_page,
            "total": total, "links": links}
    response = current_app.json.response(body)
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
    return response


@bp.post("")
def create_book() -> tuple[dict, int, dict]:
    """Create a book from a JSON body; 201 with a Location header."""
    fields = validate_book(json_body(request))
    book = Book(**fields)
    session = get_session()
    session.add(book)
    session.commit()
    return book.to_dict(), 201, {"Location": url_for("books.get_book", book_id=book.id)}


@bp.get("/<int:book_id>")
def get_book(book_id: int) -> dict:
    """One book, or 404."""
    return _find(book_id).to_dict()


@bp.patch("/<int:book_id>")
def update_book(book_id: int) -> dict:
    """Change some fields of a book."""
    fields = validate_book(json_body(request), partial=True)
    book = _find(book_id)
    for name, value in fields.items():
        setattr(book, name, value)
    get_session().commit()
    return book.to_dict()


@bp.delete("/<int:book_id>")
def delete_book(book_id: int) -> tuple[str, int]:
    """Delete a book: 204, no body."""
    session = get_session()
    session.delete(_find(book_id))
    session.commit()
    return "", 204
