"""Checkout and orders: reserve stock, charge once, and let customers see only their own.

Checkout, under an ``Idempotency-Key``, in three steps, each safe to repeat:

1. one transaction reserves the stock of every cart line (``UPDATE products SET stock =
   stock - q WHERE id = ? AND stock >= q``: the row is locked, the check and the change
   are one statement, so concurrent checkouts can never sell more than there is), creates
   the order at ``pending`` with the prices of now, and empties the cart;
2. the provider creates a payment intent and confirms it (idempotency keys derived from
   the order's reference: a retry after a lost answer is not a second charge);
3. the order follows the payment: ``paid`` (and a message in the outbox) or ``cancelled``
   (and the stock back).
"""

import re
import secrets

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from . import idempotency, provider
from .auth import current_customer, require_admin
from .cart import cart_lines
from .db import cart_items, engine, order_lines, orders, products, transaction
from .errors import ApiError, json_body, text_field
from .money import MAX_CENTS, display
from .states import now

bp = Blueprint("orders", __name__)
KEY = re.compile(r"[A-Za-z0-9_-]{8,100}")
PAYMENT_METHOD = re.compile(r"pm_[A-Za-z0-9_]{1,60}")


class OutOfStock(Exception):
    pass


def order_json(conn, order):
    lines = conn.execute(sa.select(order_lines.c.product_id, order_lines.c.quantity,
                                   order_lines.c.unit_price_cents)
                         .where(order_lines.c.order_id == order["id"])
                         .order_by(order_lines.c.product_id)).mappings().all()
    return {"id": order["id"], "status": order["status"], "total_cents": order["total_cents"],
            "total": display(order["total_cents"], order["currency"]), "currency": order["currency"],
            "address": order["address"], "lines": [dict(line) for line in lines]}


def load_order(conn, order_id):
    return conn.execute(sa.select(orders).where(orders.c.id == order_id)).mappings().first()


def place_order(customer_id, key, address):
    """Step 1: reserve the stock and create the order, all or nothing; return its id."""
    with transaction() as conn:
        lines = cart_lines(conn, customer_id)  # ordered by product id: rows are locked in one order
        if not lines:
            raise ApiError(409, "the cart is empty")
        for line in lines:
            reserved = conn.execute(
                products.update()
                .where(products.c.id == line["product_id"], products.c.stock >= line["quantity"])
                .values(stock=products.c.stock - line["quantity"])).rowcount
            if reserved != 1:
                raise OutOfStock(line["name"])  # leaves the with block: everything rolls back
        total = sum(line["quantity"] * line["price_cents"] for line in lines)
        if total > MAX_CENTS:
            raise ApiError(409, "the order is too large")
        order_id = conn.execute(orders.insert().values(
            customer_id=customer_id, status="pending", total_cents=total, address=address,
            currency=current_app.config["CURRENCY"], reference=secrets.token_hex(12),
            created_at=now())).inserted_primary_key[0]
        conn.execute(order_lines.insert(), [
            {"order_id": order_id, "product_id": line["product_id"], "quantity": line["quantity"],
             "unit_price_cents": line["price_cents"]} for line in lines])
        conn.execute(cart_items.delete().where(cart_items.c.customer_id == customer_id))
        idempotency.save_order(conn, customer_id, key, order_id)
    return order_id


def pay(order_id, payment_method):
    """Steps 2 and 3: charge the order once, then move it to paid or cancelled."""
    with engine().connect() as conn:
        order = load_order(conn, order_id)
    intent_id = order["payment_intent"]
    if intent_id is None:
        status, intent = provider.call("POST", "/v1/payment_intents", {
            "amount": order["total_cents"], "currency": order["currency"],
            "metadata": {"order_id": str(order_id)}}, key=f"{order['reference']}-intent")
        if status != 200:
            raise ApiError(502, "the payment provider refused the payment")
        intent_id = intent["id"]
        with transaction() as conn:
            conn.execute(orders.update().where(orders.c.id == order_id).values(payment_intent=intent_id))
    status, intent = provider.call("POST", f"/v1/payment_intents/{intent_id}/confirm",
                                   {"payment_method": payment_method}, key=f"{order['reference']}-confirm")
    if status != 200:  # e.g. a payment method the provider does not accept: no charge
        intent = provider.fetch_intent(intent_id) or {}
        if intent.get("status", "requires_confirmation") == "requires_confirmation":
            intent = dict(intent, status="failed", amount_refunded=0)
    return provider.reconcile(order_id, intent)


@bp.post("/api/checkout")
def checkout():
    customer = current_customer()
    key = request.headers.get("Idempotency-Key", "")
    if not KEY.fullmatch(key):
        raise ApiError(400, "an Idempotency-Key header of 8 to 100 letters, digits, - or _ is needed")
    body = json_body(request)
    address = text_field(body, "address", 500)
    method = body.get("payment_method")
    if not isinstance(method, str) or not PAYMENT_METHOD.fullmatch(method):
        raise ApiError(400, "payment_method must look like pm_...")
    claim = idempotency.claim(customer["id"], key, idempotency.request_hash(body))
    if claim.replay:
        status, payload = claim.replay
        return jsonify(payload), status, {"Idempotent-Replayed": "true"}
    try:
        status, payload = complete_checkout(customer["id"], key, claim.order_id, address, method)
    except provider.ProviderUnavailable:
        idempotency.release(customer["id"], key)
        raise ApiError(502, "the payment provider did not answer; "
                            "retry with the same Idempotency-Key") from None
    except BaseException:
        idempotency.release(customer["id"], key)
        raise
    idempotency.finish(customer["id"], key, status, payload)
    return jsonify(payload), status


def complete_checkout(customer_id, key, order_id, address, method):
    """``(status, body)`` of a checkout: final answers, stored under the idempotency key."""
    if order_id is None:
        try:
            order_id = place_order(customer_id, key, address)
        except OutOfStock as error:
            return 409, {"error": f"not enough stock of {error}"}
        except ApiError as error:
            return error.status, {"error": error.message}
    final = pay(order_id, method)
    with engine().connect() as conn:
        order = order_json(conn, load_order(conn, order_id))
    if final == "cancelled":
        return 402, {"error": "the payment was declined; the order is cancelled", "order": order}
    return 201, order


def visible_order(customer, order_id):
    """The order if it is the customer's (or they are an admin); another's is a 404, not a 403,
    so ids reveal nothing."""
    with engine().connect() as conn:
        order = load_order(conn, order_id)
        if order is None or (order["customer_id"] != customer["id"] and customer["role"] != "admin"):
            raise ApiError(404, "no such order")
        return order_json(conn, order)


@bp.get("/api/orders")
def list_orders():
    customer = current_customer()
    with engine().connect() as conn:
        rows = conn.execute(sa.select(orders).where(orders.c.customer_id == customer["id"])
                            .order_by(orders.c.id.desc()).limit(100)).mappings().all()
        return jsonify(orders=[order_json(conn, row) for row in rows])


@bp.get("/api/orders/<id:order_id>")
def show_order(order_id):
    return jsonify(visible_order(current_customer(), order_id))


@bp.post("/api/orders/<id:order_id>/refund")
def refund(order_id):
    """Admins refund a paid or fulfilled order in full."""
    require_admin()
    with engine().connect() as conn:
        order = load_order(conn, order_id)
    if order is None:
        raise ApiError(404, "no such order")
    if order["status"] not in ("paid", "fulfilled"):
        raise ApiError(409, f"a {order['status']} order cannot be refunded")
    status, answer = provider.call("POST", "/v1/refunds", {"payment_intent": order["payment_intent"]},
                                   key=f"{order['reference']}-refund")
    if status != 200:
        raise ApiError(409, "the provider refused the refund")
    provider.reconcile(order_id, provider.fetch_intent(order["payment_intent"]) or {})
    with engine().connect() as conn:
        return jsonify(order_json(conn, load_order(conn, order_id)))
