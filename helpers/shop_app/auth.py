"""Customers and their API tokens (``Authorization: Bearer <token>``).

A token is 32 random bytes; only its SHA-256 is stored, so a stolen database holds no
usable token (a fast hash is right here: the token is random, not a guessable password).
Bearer tokens are not sent by browsers on their own, so the API needs no CSRF tokens.
"""

import hashlib
import re
import secrets

import sqlalchemy as sa
from flask import Blueprint, g, jsonify, request

from .db import customers, engine, transaction
from .errors import ApiError, json_body

bp = Blueprint("auth", __name__)
NAME = re.compile(r"[A-Za-z0-9_]{3,40}")


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_customer(name, role="customer"):
    """Create a customer; return ``(row as dict, token)``. The token is shown only once."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ApiError(400, "name must be 3 to 40 letters, digits or underscores")
    token = secrets.token_urlsafe(32)
    try:
        with transaction() as conn:
            new_id = conn.execute(customers.insert().values(
                name=name, token_hash=token_hash(token), role=role)).inserted_primary_key[0]
    except sa.exc.IntegrityError:
        raise ApiError(409, "that name is taken") from None
    return {"id": new_id, "name": name, "role": role}, token


def current_customer():
    """The customer whose token came with the request, or a 401."""
    if "customer" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        row = None
        if scheme.lower() == "bearer" and 0 < len(token) <= 100:
            with engine().connect() as conn:
                row = conn.execute(sa.select(customers).where(
                    customers.c.token_hash == token_hash(token))).mappings().first()
        if row is None:
            raise ApiError(401, "a valid bearer token is needed")
        g.customer = dict(row)
    return g.customer


def require_admin():
    customer = current_customer()
    if customer["role"] != "admin":
        raise ApiError(403, "admins only")
    return customer


@bp.post("/api/customers")
def register():
    """Open sign-up: always a plain customer (a ``role`` field is ignored)."""
    customer, token = create_customer(json_body(request).get("name"))
    return jsonify(customer | {"token": token}), 201


@bp.get("/api/me")
def me():
    customer = current_customer()
    return jsonify(id=customer["id"], name=customer["name"], role=customer["role"])
