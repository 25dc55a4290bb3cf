"""Webhooks from the payment provider: verified, recorded once, reconciled.

A webhook is verified (HMAC-SHA256 over ``"<timestamp>.<body>"``, a timestamp no older than
the tolerance), recorded by event id so a repeat does nothing, and never trusted for the
order's state: the shop asks the provider for the payment's current state, so events that
arrive late or out of order cannot move an order backwards.
"""

import hashlib
import hmac
import json
import re

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from .db import orders, transaction, webhook_events
from .errors import ApiError
from .provider import fetch_intent, status_for
from .states import advance, now

bp = Blueprint("webhooks", __name__)
SIGNATURE_HEADER = "Provider-Signature"
EVENT_FIELD = re.compile(r"[A-Za-z0-9_.]{1,64}")


def verify(body, header):
    """Raise a 400 unless ``header`` signs ``body`` with our secret, recently."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for name, value in fields if name.strip() == "t"]
    signatures = [value.strip() for name, value in fields if name.strip() == "v1"]
    well_formed = len(timestamps) == 1 and timestamps[0].strip().isdigit() and len(timestamps[0]) <= 12
    if not well_formed or not signatures:
        raise ApiError(400, "missing or malformed signature")
    timestamp = int(timestamps[0])
    if abs(now() - timestamp) > current_app.config["WEBHOOK_TOLERANCE_SECONDS"]:
        raise ApiError(400, "stale signature (a replay?)")
    secret = current_app.config["WEBHOOK_SECRET"].encode()
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures):
        raise ApiError(400, "bad signature")


def parse_event(body):
    try:
        event = json.loads(body)
        event_id, kind, intent_id = event["id"], event["type"], event["data"]["object"]["id"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "not a payment event") from None
    # The intent id goes into a URL path of the provider's API: letters, digits and _ only.
    if not all(isinstance(v, str) and EVENT_FIELD.fullmatch(v) for v in (event_id, kind, intent_id)):
        raise ApiError(400, "not a payment event")
    return event_id, kind, intent_id


@bp.post("/webhooks/payments")
def webhook():
    body = request.get_data()
    verify(body, request.headers.get(SIGNATURE_HEADER, ""))
    event_id, kind, intent_id = parse_event(body)
    with transaction() as conn:
        seen = conn.execute(sa.select(webhook_events.c.id).where(webhook_events.c.id == event_id)).first()
    if seen:
        return jsonify(received=True, duplicate=True)
    intent = fetch_intent(intent_id)  # the current state, whatever order events come in
    try:
        with transaction() as conn:
            conn.execute(webhook_events.insert().values(id=event_id, type=kind[:60], received_at=now()))
            order_id = conn.execute(sa.select(orders.c.id)
                                    .where(orders.c.payment_intent == intent_id)).scalar()
            if order_id is not None and intent is not None:
                advance(conn, order_id, status_for(intent))
    except sa.exc.IntegrityError:
        return jsonify(received=True, duplicate=True)  # the same event, handled concurrently
    return jsonify(received=True, duplicate=False)
