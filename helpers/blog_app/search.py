"""Milestone 5: full-text search over posts with SQLite FTS5."""

import re

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from .db import get_db
from .posts import POST_SELECT, page_number, post_json

bp = Blueprint("search", __name__)

MAX_QUERY = 200  # characters
MAX_TERMS = 10


def fts_query(text):
    """An FTS5 MATCH expression for the words of text, each a quoted string (so FTS5
    operators, column filters and quotes in text are just words); "" if it has none."""
    words = re.findall(r"\w+", text)[:MAX_TERMS]
    # A word has no '"' in it, so wrapping it in quotes makes it a plain FTS5 string.
    return " ".join(f'"{word}"' for word in words)


def search_posts(text, page):
    """(the posts matching every word of text, best match first, one page; the number
    of matches). The expression is a bound parameter, never part of the SQL text."""
    expression = fts_query(text)
    if not expression:
        return [], 0
    per_page = current_app.config["POSTS_PER_PAGE"]
    db = get_db()
    total = db.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?", (expression,)).fetchone()[0]
    rows = db.execute(
        f"{POST_SELECT} JOIN posts_fts f ON f.rowid = p.id WHERE posts_fts MATCH ? "  # noqa: S608 (constant)
        "ORDER BY bm25(posts_fts), p.id DESC LIMIT ? OFFSET ?",
        (expression, per_page, (page - 1) * per_page)).fetchall()
    return rows, total


def query_text():
    """The ?q= argument; 400 if longer than MAX_QUERY characters."""
    text = request.args.get("q", "")
    if len(text) > MAX_QUERY:
        abort(400, description=f"q: at most {MAX_QUERY} characters")
    return text


@bp.get("/api/search")
def api_search():
    page = page_number()
    rows, total = search_posts(query_text(), page)
    return jsonify(posts=[post_json(r) for r in rows], page=page,
                   per_page=current_app.config["POSTS_PER_PAGE"], total=total)


@bp.get("/search")
def search_page():
    text, page = query_text(), page_number()
    rows, total = search_posts(text, page)
    return render_template("search.html", q=text, posts=rows, total=total, page=page)
