"""The mini books API that step 04 grows and steps 06 and 08 reuse.

Built the way Flask's tutorial builds an app: an app factory, no app at import time::

    from helpers.mini_api import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///books.db"})
    app.test_client().get("/books").json

Without ``test_config`` the configuration comes from the environment
(:func:`helpers.mini_api.config.load_config`): that is how a WSGI server starts it,
``gunicorn "helpers.mini_api:create_app()"``.

Pieces, one module each: ``problems`` (RFC 9457 error bodies), ``validation``,
``middleware`` (request IDs, timing, a WSGI middleware), ``db`` (SQLAlchemy),
``books`` (the blueprint), ``ops`` (health, readiness, OpenAPI), ``config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from helpers.mini_api import books, db, ops
from helpers.mini_api.config import DEFAULTS, load_config
from helpers.mini_api.middleware import register_request_hooks
from helpers.mini_api.problems import register_error_handlers

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the books API; ``test_config`` (a dict) replaces reading the environment."""
    app = Flask(__name__)
    if test_config is None:
        app.config.update(load_config(os.environ))
    else:
        app.config.update(DEFAULTS)
        app.config.update(test_config)
    app.json.sort_keys = False  # keep the order fields were written in
    register_error_handlers(app)
    register_request_hooks(app)
    db.init_app(app)
    app.register_blueprint(books.bp)
    app.register_blueprint(ops.bp)
    if app.config["DEMO_ROUTES"]:
        app.register_blueprint(ops.demo_bp)
    return app
