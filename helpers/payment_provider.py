"""A fake payment provider for the shop capstone (step 10b), served as its own app.

It speaks a small Stripe-like API over HTTP on 127.0.0.1, so the shop talks to it exactly
as it would talk to a real provider, and a test can make it misbehave the way real
providers and networks do::

    POST /v1/payment_intents              {"amount": 1250, "currency": "eur", "metadata": {...}}
    GET  /v1/payment_intents/<id>
    POST /v1/payment_intents/<id>/confirm {"payment_method": "pm_card_visa"}
    POST /v1/refunds                      {"payment_intent": "<id>"}

- Every call needs ``Authorization: Bearer <api key>``; amounts are integers in the
  currency's minor unit (cents), never floats.
- An ``Idempotency-Key`` header makes a POST safe to retry: the same key with the same
  body replays the first response; with another body it is a 400.
- ``pm_card_visa`` succeeds, ``pm_card_declined`` fails. Each success is one **charge**,
  counted in :attr:`FakeProvider.charges`: the number a test compares with the orders.
- Each change of an intent raises an **event** (``payment_intent.succeeded``,
  ``payment_intent.payment_failed``, ``charge.refunded``). Events are not sent when they
  happen: the test delivers them with :meth:`FakeProvider.deliver`, late, twice or in
  any order, each POSTed to the shop's webhook URL and signed as
  ``Provider-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
- :meth:`FakeProvider.lose_next_response` makes the provider do the work of the next
  matching call and then answer 503, as if the response was lost on the way back: the
  case an idempotency key exists for.

Ids are sequential (``pi_000001``), so notebook outputs are stable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, jsonify, request

__all__ = ["FakeProvider", "create_provider", "sign"]

PAYMENT_METHODS = {"pm_card_visa": True, "pm_card_declined": False}
SIGNATURE_HEADER = "Provider-Signature"
MAX_AMOUNT = 99_999_999  # cents, as real providers cap a single payment


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class FakeProvider:
    """The provider's state: intents, charges, refunds, events; thread-safe.

    ``api_key`` authenticates the shop; ``webhook_secret`` signs the events sent to
    ``webhook_url``; ``clock`` gives the time written into each signature.
    """

    def __init__(self, api_key: str, webhook_secret: str, webhook_url: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.api_key, self.webhook_secret = api_key, webhook_secret
        self.webhook_url, self.clock = webhook_url, clock
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.undelivered: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self._idempotency: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self._lose: list[str] = []
        self._lock = threading.RLock()
        self.url: str | None = None  # set by helpers.shop_lab.start_provider once served
        self.server: Any = None

    def stop(self) -> None:
        """Stop the provider's server, if it is served."""
        if self.server is not None:
            self.server.stop()

    # ---- what a test controls and reads

    def lose_next_response(self, path_contains: str) -> None:
        """Do the next call whose path contains ``path_contains``, then answer 503."""
        with self._lock:
            self._lose.append(path_contains)

    def deliver(self, event_ids: list[str] | None = None, *, times: int = 1,
                reverse: bool = False) -> list[int]:
        """POST events to the webhook URL, signed now; return the statuses the shop gave.

        ``event_ids`` defaults to every event not delivered yet, oldest first (newest first
        with ``reverse``); each is sent ``times`` times in a row.
        """
        with self._lock:
            ids = list(self.undelivered) if event_ids is None else list(event_ids)
            self.undelivered = [i for i in self.undelivered if i not in ids]
        if reverse:
            ids.reverse()
        statuses = []
        for event_id in ids:
            event = next(e for e in self.events if e["id"] == event_id)
            for _ in range(times):
                statuses.append(self.send(event).status_code)
        return statuses

    def signed_request(self, event: dict[str, Any],
                       timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers a delivery of ``event`` carries (signed at ``timestamp``)."""
        body = json.dumps(event, sort_keys=True).encode()
        when = int(self.clock()) if timestamp is None else timestamp
        signature = sign(self.webhook_secret, body, when)
        return body, {"Content-Type": "application/json", SIGNATURE_HEADER: signature}

    def send(self, event: dict[str, Any], timestamp: int | None = None) -> requests.Response:
        """One delivery of ``event`` to the webhook URL."""
        if not self.webhook_url:
            raise RuntimeError("the provider has no webhook_url to deliver to")
        body, headers = self.signed_request(event, timestamp)
        return requests.post(self.webhook_url, data=body, headers=headers, timeout=10)

    def event_types(self) -> list[str]:
        return [e["type"] for e in self.events]

    # ---- the API, called by the Flask views below

    def _event(self, kind: str, intent: dict[str, Any]) -> None:
        event_id = f"evt_{len(self.events) + 1:06d}"
        self.events.append({"id": event_id, "type": kind, "created": int(self.clock()),
                            "data": {"object": dict(intent)}})
        self.undelivered.append(event_id)

    def create_intent(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        amount, currency, metadata = body.get("amount"), body.get("currency"), body.get("metadata", {})
        if type(amount) is not int or not 1 <= amount <= MAX_AMOUNT:
            raise ApiError(400, f"amount must be a whole number of cents from 1 to {MAX_AMOUNT}")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise ApiError(400, "currency must be a three-letter ISO code")
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ApiError(400, "metadata must map strings to strings")
        intent = {"id": f"pi_{len(self.intents) + 1:06d}", "object": "payment_intent", "amount": amount,
                  "currency": currency.lower(), "status": "requires_confirmation", "amount_refunded": 0,
                  "metadata": metadata}
        self.intents[intent["id"]] = intent
        return 200, dict(intent)

    def intent(self, intent_id: str) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise ApiError(404, f"no such payment intent: {intent_id}")
        return self.intents[intent_id]

    def confirm(self, intent_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.intent(intent_id)
        method = body.get("payment_method")
        if method not in PAYMENT_METHODS:
            raise ApiError(400, f"payment_method must be one of {sorted(PAYMENT_METHODS)}")
        if intent["status"] != "requires_confirmation":
            raise ApiError(400, f"this payment intent's status is {intent['status']}")
        if PAYMENT_METHODS[method]:
            intent["status"] = "succeeded"
            self.charges.append({"payment_intent": intent_id, "amount": intent["amount"]})
            self._event("payment_intent.succeeded", intent)
        else:
            intent["status"] = "failed"
            self._event("payment_intent.payment_failed", intent)
        return 200, dict(intent)

    def refund(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.intent(str(body.get("payment_intent")))
        if intent["status"] != "succeeded" or intent["amount_refunded"] >= intent["amount"]:
            raise ApiError(400, "only a succeeded, unrefunded payment can be refunded")
        refund = {"id": f"re_{len(self.refunds) + 1:06d}", "object": "refund", "payment_intent": intent["id"],
                  "amount": intent["amount"] - intent["amount_refunded"]}
        intent["amount_refunded"] = intent["amount"]
        self.refunds.append(refund)
        self._event("charge.refunded", intent)
        return 200, refund

    def handle(self, key: str | None, action: Callable[[], tuple[int, dict[str, Any]]],
               fingerprint: str) -> tuple[int, dict[str, Any]]:
        """Run ``action`` once per idempotency ``key``; a repeat replays the stored answer."""
        with self._lock:
            if key is not None:
                if key in self._idempotency:
                    first, status, body = self._idempotency[key]
                    if first != fingerprint:
                        return 400, {"error": "this Idempotency-Key was used with another request"}
                    return status, body
            try:
                status, body = action()
            except ApiError as error:
                status, body = error.status, {"error": error.message}
            if key is not None:
                self._idempotency[key] = (fingerprint, status, body)
            return status, body

    def take_lost(self, path: str) -> bool:
        with self._lock:
            for i, fragment in enumerate(self._lose):
                if fragment in path:
                    del self._lose[i]
                    return True
        return False


def create_provider(provider: FakeProvider) -> Flask:
    """The provider's HTTP API over ``provider``'s state."""
    app = Flask("payment_provider")

    @app.before_request
    def authenticate():
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {provider.api_key}".encode()):
            return jsonify(error="invalid API key"), 401
        provider.requests.append((request.method, request.path))
        return None

    def respond(action: Callable[[Any], tuple[int, dict[str, Any]]]):
        body = request.get_json(silent=True)
        if request.method == "POST" and not isinstance(body, dict):
            return jsonify(error="the body must be a JSON object"), 400
        fingerprint = f"{request.path} {json.dumps(body, sort_keys=True)}"
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        status, payload = provider.handle(key, lambda: action(body), fingerprint)
        if provider.take_lost(request.path):
            return jsonify(error="service unavailable"), 503
        return jsonify(payload), status

    @app.post("/v1/payment_intents")
    def create_intent():
        return respond(provider.create_intent)

    @app.get("/v1/payment_intents/<intent_id>")
    def get_intent(intent_id):
        return respond(lambda _body: (200, dict(provider.intent(intent_id))))

    @app.post("/v1/payment_intents/<intent_id>/confirm")
    def confirm(intent_id):
        return respond(lambda body: provider.confirm(intent_id, body))

    @app.post("/v1/refunds")
    def refund():
        return respond(provider.refund)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(error):
        return jsonify(error=error.name), error.code

    return app
