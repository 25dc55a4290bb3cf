"""The reference shop of step 10b: the app factory that wires the modules together.

Modules: ``db`` (tables, engine), ``money`` (integer cents), ``errors`` (JSON errors,
input checks), ``auth`` (customers, bearer tokens), ``catalog`` (products), ``cart``,
``states`` (the order state machine, the outbox), ``idempotency`` (Idempotency-Key),
``provider`` (the payment provider's API), ``orders`` (checkout, orders, refunds),
``webhooks`` (signed, reconciled) and ``worker`` (outbox relay, fulfilment over kombu).

The walkthrough (``notebooks/10b-shop.ipynb``) serves it with
``helpers.shop_lab.start_shop("helpers.shop_app")``.
"""

import importlib
import importlib.util
import os
import time

from flask import Flask

from .errors import ApiError, IdConverter, api_error, http_error


def create_app(test_config=None):
    """Build the app; ``test_config`` overrides the defaults (tests pass a temp database)."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)  # an API: no static files
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or "sqlite:///" + os.path.join(app.instance_path, "shop.sqlite"),
        BROKER_URL=os.environ.get("BROKER_URL") or "memory://",
        BROKER_EXCHANGE="shop",
        BROKER_QUEUE="shop.fulfilment",
        PAYMENT_PROVIDER_URL=os.environ.get("PAYMENT_PROVIDER_URL"),
        PAYMENT_API_KEY=os.environ.get("PAYMENT_API_KEY"),
        WEBHOOK_SECRET=os.environ.get("WEBHOOK_SECRET"),
        WEBHOOK_TOLERANCE_SECONDS=300,  # an older signature is a replay
        PAYMENT_TIMEOUT=10,
        IDEMPOTENCY_LOCK_SECONDS=60,  # a request holding its key longer is presumed dead
        CLOCK=time.time,  # tests pass a fake one
        CURRENCY="eur",
        PRODUCTS_PER_PAGE=20,
        MAX_CONTENT_LENGTH=16 * 1024,  # bigger bodies get 413 before any view runs
    )
    if test_config:
        app.config.update(test_config)
    missing = [k for k in ("PAYMENT_PROVIDER_URL", "PAYMENT_API_KEY", "WEBHOOK_SECRET") if not app.config[k]]
    if missing:
        raise RuntimeError(f"set {', '.join(missing)} (in the environment or the test config)")
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)

    from . import db, provider

    db.init_app(app)
    app.url_map.converters["id"] = IdConverter
    # Each milestone adds a module; register the blueprints of those written so far.
    for name in ("auth", "catalog", "cart", "orders", "webhooks"):
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(provider.ProviderUnavailable,
                               lambda error: api_error(ApiError(503, "the payment provider is unavailable")))
    for code in (400, 401, 403, 404, 405, 409, 413, 415):
        app.register_error_handler(code, http_error)
    return app
