"""Milestone 4: posts and comments, as HTML pages and a JSON API, with authorisation."""

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from .auth import current_user, login_required, submitted
from .db import get_db
from .render import render_markdown

bp = Blueprint("posts", __name__)

POST_LIMITS = {"title": 200, "body": 20_000}  # characters
COMMENT_LIMITS = {"body": 2_000}
MAX_PAGE = 10_000

POST_SELECT = """SELECT p.id, p.title, p.body, p.created, p.author_id, u.username
                 FROM posts p JOIN users u ON u.id = p.author_id"""


def page_number():
    """The ?page= argument: 1 when absent, 400 unless a whole number from 1 to MAX_PAGE."""
    raw = request.args.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, description=f"page must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def list_posts(page):
    """(posts on that page, newest first, POSTS_PER_PAGE to a page; the total number of posts)."""
    per_page = current_app.config["POSTS_PER_PAGE"]
    db = get_db()
    total = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    rows = db.execute(f"{POST_SELECT} ORDER BY p.id DESC LIMIT ? OFFSET ?",  # noqa: S608 (constant)
                      (per_page, (page - 1) * per_page)).fetchall()
    return rows, total


def get_post(post_id):
    """The post's row, or 404."""
    row = get_db().execute(f"{POST_SELECT} WHERE p.id = ?", (post_id,)).fetchone()  # noqa: S608
    if row is None:
        abort(404)
    return row


def can_change(user, post):
    """Only the post's author or an admin may edit or delete it."""
    return user is not None and (user["role"] == "admin" or user["id"] == post["author_id"])


def validated(data, limits, required=True):
    """{field: stripped text} for each field of limits ({name: max characters}) in data;
    400 if one is missing (when required), not a string, blank, or longer than its limit."""
    clean = {}
    for field, limit in limits.items():
        if field not in data:
            if required:
                abort(400, description=f"{field} is required")
            continue
        value = data[field]
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            abort(400, description=f"{field}: text of 1 to {limit} characters")
        clean[field] = value.strip()
    return clean


def post_json(row):
    return {"id": row["id"], "title": row["title"], "body": row["body"], "html": render_markdown(row["body"]),
            "author": {"id": row["author_id"], "username": row["username"]}, "created": row["created"]}


def create_post(data):
    """Insert a post by the current user from validated data; its id."""
    fields = validated(data, POST_LIMITS)
    cursor = get_db().execute("INSERT INTO posts (author_id, title, body) VALUES (?, ?, ?)",
                              (current_user()["id"], fields["title"], fields["body"]))
    return cursor.lastrowid


def create_comment(post_id, data):
    """Insert a comment by the current user on an existing post; its id."""
    body = validated(data, COMMENT_LIMITS)["body"]
    cursor = get_db().execute("INSERT INTO comments (post_id, author_id, body) VALUES (?, ?, ?)",
                              (post_id, current_user()["id"], body))
    return cursor.lastrowid


# ---- HTML pages ----------------------------------------------------------------------------

@bp.get("/")
def index():
    page = page_number()
    rows, total = list_posts(page)
    per_page = current_app.config["POSTS_PER_PAGE"]
    return render_template("index.html", posts=rows, page=page, more=page * per_page < total)


@bp.get("/posts/<int:post_id>")
def show(post_id):
    post = get_post(post_id)
    comments = get_db().execute(
        "SELECT c.body, c.created, u.username FROM comments c JOIN users u ON u.id = c.author_id "
        "WHERE c.post_id = ? ORDER BY c.id", (post_id,)).fetchall()
    # Markup(...) marks the sanitised HTML as safe; everything else is autoescaped by Jinja2.
    return render_template("post.html", post=post, html=Markup(render_markdown(post["body"])),  # noqa: S704
                           comments=comments, user=current_user())


@bp.route("/posts/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "GET":
        return render_template("new.html")
    post_id = create_post(request.form)
    return redirect(url_for("posts.show", post_id=post_id))


@bp.post("/posts/<int:post_id>/comments")
@login_required
def comment(post_id):
    get_post(post_id)
    create_comment(post_id, request.form)
    return redirect(url_for("posts.show", post_id=post_id))


# ---- JSON API ------------------------------------------------------------------------------

@bp.get("/api/posts")
def api_list():
    page = page_number()
    rows, total = list_posts(page)
    return jsonify(posts=[post_json(r) for r in rows], page=page,
                   per_page=current_app.config["POSTS_PER_PAGE"], total=total)


@bp.post("/api/posts")
@login_required
def api_create():
    """Create a post; the author is the logged-in user, whatever the body says."""
    post_id = create_post(submitted())
    return jsonify(post_json(get_post(post_id))), 201, {"Location": url_for("posts.api_get", post_id=post_id)}


@bp.get("/api/posts/<int:post_id>")
def api_get(post_id):
    return jsonify(post_json(get_post(post_id)))


@bp.patch("/api/posts/<int:post_id>")
@login_required
def api_update(post_id):
    """Change the title and/or body: the author or an admin only (403 for anyone else)."""
    post = get_post(post_id)
    if not can_change(current_user(), post):
        abort(403)
    fields = validated(submitted(), POST_LIMITS, required=False)
    if not fields:
        abort(400, description="nothing to change: send title and/or body")
    assignments = ", ".join(f"{name} = ?" for name in fields)  # names from the fixed tuple above
    get_db().execute(f"UPDATE posts SET {assignments} WHERE id = ?",  # noqa: S608
                     (*fields.values(), post_id))
    return jsonify(post_json(get_post(post_id)))


@bp.delete("/api/posts/<int:post_id>")
@login_required
def api_delete(post_id):
    """Delete a post and its comments: the author or an admin only."""
    post = get_post(post_id)
    if not can_change(current_user(), post):
        abort(403)
    get_db().execute("DELETE FROM posts WHERE id = ?", (post_id,))  # comments: ON DELETE CASCADE
    return "", 204


@bp.get("/api/posts/<int:post_id>/comments")
def api_comments(post_id):
    get_post(post_id)
    rows = get_db().execute(
        "SELECT c.id, c.body, c.created, u.id AS author_id, u.username FROM comments c "
        "JOIN users u ON u.id = c.author_id WHERE c.post_id = ? ORDER BY c.id", (post_id,)).fetchall()
    return jsonify(comments=[{"id": r["id"], "body": r["body"], "created": r["created"],
                              "author": {"id": r["author_id"], "username": r["username"]}} for r in rows])


@bp.post("/api/posts/<int:post_id>/comments")
@login_required
def api_comment(post_id):
    """Comment on a post as the logged-in user (any logged-in user may comment)."""
    get_post(post_id)
    comment_id = create_comment(post_id, submitted())
    return jsonify(id=comment_id, body=validated(submitted(), COMMENT_LIMITS)["body"]), 201
