"""The payment provider's API: every call the shop makes to it, and what its answers mean.

Every call that changes something carries an idempotency key derived from the order's
random reference, so the shop can repeat a call whose answer it never got without
charging twice. An order's status follows the payment's state *at the provider*
(:func:`reconcile`), only ever forwards.
"""

import requests
from flask import current_app

from .db import transaction
from .states import advance


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered 5xx: the outcome is unknown, retry later."""


def call(method, path, body=None, key=None):
    """``(status, JSON body)`` of one provider API call."""
    config = current_app.config
    headers = {"Authorization": f"Bearer {config['PAYMENT_API_KEY']}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    try:
        response = requests.request(method, config["PAYMENT_PROVIDER_URL"] + path, json=body,
                                    headers=headers, timeout=config["PAYMENT_TIMEOUT"])
    except requests.RequestException as error:
        raise ProviderUnavailable(str(error)) from None
    if response.status_code >= 500:
        raise ProviderUnavailable(f"the provider answered {response.status_code}")
    return response.status_code, response.json()


def fetch_intent(intent_id):
    """The payment's current state at the provider; None if the provider does not know it."""
    status, intent = call("GET", f"/v1/payment_intents/{intent_id}")
    return intent if status == 200 else None


def status_for(intent):
    """The order status the payment's state calls for."""
    if intent.get("amount_refunded", 0) > 0:
        return "refunded"
    return {"succeeded": "paid", "failed": "cancelled"}.get(intent.get("status"), "pending")


def reconcile(order_id, intent):
    """Bring the order in line with the payment (only ever forwards)."""
    with transaction() as conn:
        return advance(conn, order_id, status_for(intent))
