"""Idempotency keys: a retried request gets the first one's response, never a second effect.

A client sends ``Idempotency-Key: <random>`` with a request that must not happen twice.
The first request under a key *claims* it (an INSERT the primary key makes unique, so of
two racing requests exactly one wins), works, and stores its response. Later ones with
the same key and body get that stored response; with another body, a 422; while the
first is still working, a 409. A first request that failed half-way (the provider did
not answer) releases the key: the retry resumes from the order it had created.
"""

import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from .db import idempotency_keys, transaction
from .errors import ApiError
from .states import now


@dataclass
class Claim:
    """What a request may do under its key: ``replay`` a stored response, or work (resuming
    from ``order_id`` if an earlier attempt created one)."""

    replay: tuple | None = None
    order_id: int | None = None


def request_hash(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def claim(customer_id, key, body_hash):
    at = now()
    try:
        with transaction() as conn:
            conn.execute(idempotency_keys.insert().values(
                customer_id=customer_id, key=key, request_hash=body_hash, locked_at=at, created_at=at))
        return Claim()
    except sa.exc.IntegrityError:
        pass  # the key exists: a retry, or a duplicate racing us
    with transaction() as conn:
        row = conn.execute(sa.select(idempotency_keys).filter_by(customer_id=customer_id, key=key)
                           .with_for_update()).mappings().one()
        if row["request_hash"] != body_hash:
            raise ApiError(422, "this Idempotency-Key was used with a different request")
        if row["response_status"] is not None:
            return Claim(replay=(row["response_status"], json.loads(row["response_body"])))
        lock_seconds = current_app.config["IDEMPOTENCY_LOCK_SECONDS"]
        if row["locked_at"] is not None and at - row["locked_at"] < lock_seconds:
            raise ApiError(409, "a request with this Idempotency-Key is in progress; retry later")
        conn.execute(_row(customer_id, key).values(locked_at=at))
        return Claim(order_id=row["order_id"])


def _row(customer_id, key):
    return idempotency_keys.update().filter_by(customer_id=customer_id, key=key)


def save_order(conn, customer_id, key, order_id):
    """Record the order created under ``key``, in the transaction that created it."""
    conn.execute(_row(customer_id, key).values(order_id=order_id))


def finish(customer_id, key, status, body):
    """Store the final response; every retry with this key gets it."""
    with transaction() as conn:
        conn.execute(_row(customer_id, key).values(
            response_status=status, response_body=json.dumps(body), locked_at=None))


def release(customer_id, key):
    """Unlock the key after a failure that is not final, so a retry can resume."""
    with transaction() as conn:
        conn.execute(_row(customer_id, key).values(locked_at=None))
