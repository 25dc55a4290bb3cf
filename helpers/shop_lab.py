"""Plumbing for the shop capstone (step 10b): serve a shop package and its payment provider.

The capstone's app is a package (``shop/``) that the project notebook writes next to
itself; the reference app is :mod:`helpers.shop_app`. Tests and the walkthrough use the
pieces here, so their cells stay short::

    from helpers.shop_lab import start_shop
    shop = start_shop("helpers.shop_app")     # a fresh database, a fake provider, a worker
    admin, alice = shop.customer("admin", role="admin"), shop.customer("alice")
    mug = admin.post("/api/products", json={"sku": "MUG", "name": "Mug", "price_cents": 1250,
                                            "stock": 3}).json()
    alice.put(f"/api/cart/items/{mug['id']}", json={"quantity": 2})
    alice.checkout("1 Main St").json()["status"]          # 'paid'
    shop.provider.deliver()                               # the webhooks, when the test says
    shop.worker.run_once()                                # outbox -> broker -> fulfilled
    shop.stop()

- :func:`start_shop` imports the package afresh, gives it a database of its own (SQLite
  in a temporary folder, or a fresh schema/database on the server ``DATABASE_URL``
  names, via :mod:`helpers.databases`), a broker (``BROKER_URL``, default ``memory://``,
  with exchange and queue names of its own), a :class:`FakeClock` and a fake payment
  provider (:func:`start_provider`) that shares the clock and knows the shop's webhook URL.
- :class:`ShopClient` is a ``requests.Session`` carrying a customer's bearer token.
- :data:`OPENAPI` documents the JSON API for schemathesis.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from kombu import Connection

from helpers import databases
from helpers.blog_lab import FakeClock, spy
from helpers.payment_provider import FakeProvider, create_provider
from helpers.servers import BackgroundServer, serve

__all__ = ["API_KEY", "OPENAPI", "WEBHOOK_SECRET", "FakeClock", "ShopClient", "ShopServer", "broker_url",
           "import_shop", "spy", "start_provider", "start_shop"]

#: Test credentials shared by the fake provider and the shop under test (not secrets).
API_KEY = "sk_test_shop_lab"  # noqa: S105
WEBHOOK_SECRET = "whsec_test_shop_lab"  # noqa: S105
#: Where the clock starts: a fixed Unix time, so signatures and outputs are reproducible.
EPOCH = 1_750_000_000


def broker_url() -> str:
    """``BROKER_URL`` from the environment, else kombu's in-process ``memory://``."""
    return os.environ.get("BROKER_URL", "").strip() or "memory://"


def start_provider(clock: Any = None, name: str = "payment-provider") -> FakeProvider:
    """A :class:`~helpers.payment_provider.FakeProvider` served on 127.0.0.1 (``.url``)."""
    provider = FakeProvider(API_KEY, WEBHOOK_SECRET, clock=clock or FakeClock(EPOCH))
    provider.server = serve(create_provider(provider), name=name)
    provider.url = provider.server.url
    return provider


def import_shop(package: str = "shop") -> Any:
    """Import ``package`` afresh (default: ``./shop``, next to the notebook) and return it."""
    here = str(Path.cwd())
    if package.split(".")[0] == "shop" and here not in sys.path:
        sys.path.insert(0, here)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()  # files written a moment ago must be seen
    return importlib.import_module(package)


class ShopServer:
    """A served shop: ``url``, ``app``, ``package``, ``clock``, ``provider``, ``worker``,
    ``engine`` (a direct line to its database, to read rows back), ``customer()``, ``stop()``."""

    def __init__(self, server: BackgroundServer, app: Any, package: Any, clock: FakeClock,
                 provider: FakeProvider, lab_engine: sa.Engine, own_provider: bool) -> None:
        self.server, self.app, self.package, self.clock, self.provider = server, app, package, clock, provider
        self.engine, self._own_provider = lab_engine, own_provider
        self.url = server.url
        self._worker: Any = None

    @property
    def worker(self) -> Any:
        """The package's ``worker.Worker`` for this app (made on first use: a capstone
        writes ``worker.py`` in its last milestone)."""
        if self._worker is None:
            self._worker = importlib.import_module(self.package.__name__ + ".worker").Worker(self.app)
        return self._worker

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` inside the app's context (e.g. a service function)."""
        with self.app.app_context():
            return function(*args, **kwargs)

    def customer(self, name: str, role: str = "customer") -> ShopClient:
        """Create a customer with the package's own ``auth.create_customer``; their client."""
        auth = importlib.import_module(self.package.__name__ + ".auth")
        _, token = self.call(auth.create_customer, name, role)
        return ShopClient(self.url, token)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """The rows of a read-only query on the shop's database, as dicts."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]

    def check(self) -> None:
        """Re-raise the first exception the shop, the provider or the worker raised."""
        self.server.check()
        self.provider.server.check()
        if self._worker is not None:
            self._worker.check()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        self.server.stop()
        if self._own_provider:
            self.provider.stop()
        if importlib.util.find_spec(self.package.__name__ + ".worker") is not None:
            worker = importlib.import_module(self.package.__name__ + ".worker")
            with Connection(self.app.config["BROKER_URL"]) as broker:  # a real broker keeps queues
                queue = worker.fulfilment_queue(self.app)(broker.default_channel)
                queue.declare()  # it may not exist yet: nothing was published
                queue.delete()
                queue.exchange.delete()
        self.app.extensions["shop_engine"].dispose()
        databases.drop(self.engine)


def start_shop(package: str = "shop", provider: FakeProvider | None = None, name: str = "shop",
               database_url: str | None = None, **config: Any) -> ShopServer:
    """Import ``package``, build its app with ``create_app(config)`` on a fresh database,
    serve it on 127.0.0.1, and connect it to ``provider`` (a new one by default).

    ``database_url`` (default: ``DATABASE_URL``, else SQLite) names the server on which the
    shop gets a fresh schema or database. ``config`` overrides the test settings:
    ``BROKER_URL`` (see :func:`broker_url`), the provider's URL and keys, a shared
    :class:`FakeClock` as ``CLOCK``.
    """
    module = import_shop(package)
    clock = provider.clock if provider is not None else FakeClock(EPOCH)
    own_provider = provider is None
    if provider is None:
        provider = start_provider(clock, name=f"{name}-provider")
    lab_engine = databases.engine(f"shop-app:{name}", url=database_url)
    databases.never_sync(lab_engine)  # a throwaway file, dropped by stop()
    run = secrets.token_hex(4)
    settings = {
        "TESTING": True,
        "DATABASE_URL": databases.isolated_url(lab_engine),
        "BROKER_URL": broker_url(),
        "BROKER_EXCHANGE": f"shop-lab-{run}",
        "BROKER_QUEUE": f"shop-lab-{run}.fulfilment",
        "PAYMENT_PROVIDER_URL": provider.url,
        "PAYMENT_API_KEY": API_KEY,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLOCK": clock,
    }
    settings.update(config)
    app = module.create_app(settings)
    shop_engine = app.extensions["shop_engine"]
    databases.never_sync(shop_engine)
    server = serve(app, name=name)
    provider.webhook_url = server.url + "/webhooks/payments"
    return ShopServer(server, app, module, clock, provider, lab_engine, own_provider)


class ShopClient(requests.Session):
    """A customer's API client: relative paths, ``Authorization: Bearer <token>``, a timeout."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        super().__init__()
        self.base_url, self.timeout, self.token = base_url.rstrip("/"), timeout, token
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)

    def add(self, product_id: int, quantity: int = 1) -> requests.Response:
        """Put ``quantity`` of a product in the cart."""
        return self.put(f"/api/cart/items/{product_id}", json={"quantity": quantity})

    def checkout(self, address: str = "1 Main Street", payment_method: str = "pm_card_visa",
                 key: str | None = None) -> requests.Response:
        """POST /api/checkout under ``key`` (a fresh random one by default)."""
        return self.post("/api/checkout", json={"address": address, "payment_method": payment_method},
                         headers={"Idempotency-Key": key or uuid.uuid4().hex})


# ---- the API as OpenAPI 3.0, for schemathesis --------------------------------------------

def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ok("error", _object(["error"], error={"type": "string"})) for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, **_json(schema)}


def _pattern(regex: str) -> dict[str, Any]:
    return {"type": "string", "pattern": regex}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


_INT, _STR = {"type": "integer"}, {"type": "string"}
_CENTS = {"type": "integer", "minimum": 0, "maximum": 99_999_999}
_STOCK = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
_PRODUCT = _object(["id", "sku", "name", "price_cents", "price", "currency", "stock"], id=_INT, sku=_STR,
                   name=_STR, price_cents=_CENTS, price=_STR, currency=_STR, stock=_STOCK)
_CART = _object(["items", "total_cents"], total_cents=_INT, items={"type": "array", "items": _object(
    ["product_id", "quantity", "name", "price_cents", "line_total_cents"], product_id=_INT,
    quantity=_INT, name=_STR, price_cents=_INT, line_total_cents=_INT)})
_STATUS = {"enum": ["pending", "paid", "fulfilled", "cancelled", "refunded"]}
_ORDER = _object(["id", "status", "total_cents", "total", "currency", "address", "lines"], id=_INT,
                 status=_STATUS, total_cents=_INT, total=_STR, currency=_STR, address=_STR,
                 lines={"type": "array", "items": _object(["product_id", "quantity", "unit_price_cents"],
                                                          product_id=_INT, quantity=_INT,
                                                          unit_price_cents=_INT)})
_CUSTOMER = _object(["id", "name", "role"], id=_INT, name=_STR, role={"enum": ["customer", "admin"]})
_PAGE = {"name": "page", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 10_000}}
_KEY = {"name": "Idempotency-Key", "in": "header", "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,100}$"}}
_AUTH = (401,)

#: The shop's JSON API (the capstone's table of routes) as an OpenAPI 3.0 document. Every
#: route but sign-up, the catalogue's reads and the webhook needs ``Authorization: Bearer``.
OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Shop API (step 10b)", "version": "1.0"},
    "paths": {
        "/api/customers": {"post": {
            "requestBody": _body(_object(["name"], name=_pattern("^[A-Za-z0-9_]{3,40}$"))),
            "responses": {"201": _ok("created, with its token (shown once)", {
                **_CUSTOMER, "required": ["id", "name", "role", "token"],
                "properties": {**_CUSTOMER["properties"], "token": _STR}}), **_errors(400, 409, 413)}}},
        "/api/me": {"get": {"responses": {"200": _ok("the customer", _CUSTOMER), **_errors(*_AUTH)}}},
        "/api/products": {
            "get": {"parameters": [_PAGE], "responses": {"200": _ok("a page", _object(
                ["products", "page", "total"], products={"type": "array", "items": _PRODUCT},
                page=_INT, total=_INT)), **_errors(400)}},
            "post": {"requestBody": _body(_object(
                ["sku", "name", "price_cents", "stock"], sku=_pattern("^[A-Z0-9-]{1,40}$"),
                name=_NAME, price_cents=_CENTS, stock=_STOCK)),
                "responses": {"201": _ok("created", _PRODUCT), **_errors(400, 401, 403, 409, 413)}}},
        "/api/products/{product_id}": {
            "parameters": [_id("product_id")],
            "get": {"responses": {"200": _ok("the product", _PRODUCT), **_errors(404)}},
            "patch": {"requestBody": _body({"type": "object", "properties": {
                "name": _NAME, "price_cents": _CENTS, "stock": _STOCK},
                "anyOf": [{"required": ["name"]}, {"required": ["price_cents"]}, {"required": ["stock"]}]}),
                "responses": {"200": _ok("changed", _PRODUCT), **_errors(400, 401, 403, 404, 413)}}},
        "/api/cart": {"get": {"responses": {"200": _ok("the cart", _CART), **_errors(*_AUTH)}}},
        "/api/cart/items/{product_id}": {
            "parameters": [_id("product_id")],
            "put": {"requestBody": _body(_object(["quantity"], quantity={"type": "integer", "minimum": 1,
                                                                          "maximum": 100})),
                    "responses": {"200": _ok("the cart", _CART), **_errors(400, 401, 404, 413)}},
            "delete": {"responses": {"200": _ok("the cart", _CART), **_errors(401, 404)}}},
        "/api/checkout": {"post": {
            "parameters": [_KEY],
            "requestBody": _body(_object(["address", "payment_method"],
                                         address={"type": "string", "minLength": 1, "maxLength": 500,
                                                  "pattern": r"\S"},
                                         payment_method=_pattern("^pm_[A-Za-z0-9_]{1,60}$"))),
            "responses": {"201": _ok("paid", _ORDER),
                          "402": _ok("declined", _object(["error", "order"], error=_STR, order=_ORDER)),
                          **_errors(400, 401, 409, 413, 422, 502, 503)}}},
        "/api/orders": {"get": {"responses": {
            "200": _ok("the customer's orders", _object(["orders"], orders=_array(_ORDER))),
            **_errors(*_AUTH)}}},
        "/api/orders/{order_id}": {
            "parameters": [_id("order_id")],
            "get": {"responses": {"200": _ok("the order", _ORDER), **_errors(401, 404)}}},
        "/api/orders/{order_id}/refund": {
            "parameters": [_id("order_id")],
            "post": {"responses": {"200": _ok("refunded", _ORDER), **_errors(401, 403, 404, 409, 503)}}},
        "/webhooks/payments": {"post": {
            "parameters": [{"name": "Provider-Signature", "in": "header", "required": True, "schema": _STR}],
            "requestBody": _body({"type": "object"}),
            "responses": {"200": _ok("handled", _object(["received"], received={"type": "boolean"})),
                          **_errors(400, 413, 503)}}},
    },
}
