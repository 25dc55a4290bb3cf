"""The reference blog of step 10a: the app factory that wires the modules together.

This package is exactly what the capstone's solution notebook
(``solutions/10a-blog/10a-blog.ipynb``) writes to ``blog/`` with ``%%writefile``, minus
nbgrader's solution markers; ``tests/test_blog_app.py`` checks the two agree. The
walkthrough (``notebooks/10a-blog.ipynb``) serves it with
``helpers.blog_lab.start_blog("helpers.blog_app")``. A graded notebook cannot pass by
importing it: the hidden tests check the app under test comes from the notebook's own
``./blog`` and that no ``helpers.blog_app`` module was imported.

Modules: ``db`` (connection, migrations), ``security`` (CSRF, headers), ``auth``
(accounts, login limiter), ``render`` (safe Markdown), ``posts`` (pages, API,
authorisation), ``search`` (FTS5).
"""

import importlib.util
import os
import secrets
import time

from flask import Flask, jsonify


def create_app(test_config=None):
    """Build the app; ``test_config`` overrides the defaults (tests pass a temp DATABASE)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        # A real deployment sets BLOG_SECRET_KEY; a random key logs everyone out on restart.
        SECRET_KEY=os.environ.get("BLOG_SECRET_KEY") or secrets.token_hex(32),
        DATABASE=os.path.join(app.instance_path, "blog.sqlite"),
        ARGON2={},  # argon2-cffi's defaults (RFC 9106 low-memory profile); tests pass cheaper ones
        LOGIN_MAX_FAILURES=5,  # failed logins per username ...
        LOGIN_WINDOW_SECONDS=15 * 60,  # ... within this many seconds, then 429
        CLOCK=time.monotonic,  # the limiter's clock; tests pass a fake one
        POSTS_PER_PAGE=10,
        MAX_CONTENT_LENGTH=64 * 1024,  # bigger request bodies get 413 before any view runs
        SESSION_COOKIE_HTTPONLY=True,  # no script can read the session cookie
        SESSION_COOKIE_SECURE=True,  # sent over HTTPS only; start_blog() turns it off for plain-HTTP tests
        SESSION_COOKIE_SAMESITE="Lax",
        SQL_TRACE=None,  # a callable given each SQL statement (tests count and inspect them)
    )
    if test_config:
        app.config.update(test_config)
    os.makedirs(os.path.dirname(app.config["DATABASE"]) or ".", exist_ok=True)

    from . import db, security

    db.init_app(app)
    app.before_request(security.protect)
    app.after_request(security.security_headers)

    @app.get("/csrf")
    def csrf():
        """The session's CSRF token, for API clients (forms carry it in a hidden field)."""
        return {"csrf_token": security.csrf_token()}

    @app.context_processor
    def template_globals():
        return {"csrf_token": security.csrf_token}

    # Each milestone adds a module; register the blueprints of those written so far.
    for name in ("auth", "posts", "search"):
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            module = importlib.import_module(f"{__name__}.{name}")
            app.register_blueprint(module.bp)

    for code in (400, 401, 403, 404, 405, 409, 413, 429):
        app.register_error_handler(code, _json_error)
    return app


def _json_error(error):
    """Errors as JSON bodies, ``{"error": "Not Found"}``, with the status code and the
    error's own headers (a 405 lists the allowed methods in ``Allow``)."""
    response = jsonify(error=error.name)
    response.status_code = error.code
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
