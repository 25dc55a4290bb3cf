"""The order state machine: the only code that changes an order's status.

::

    pending --> paid --> fulfilled
       |          |          |
       v          +---> refunded <---+
    cancelled

Each change is a compare-and-set (``UPDATE ... WHERE status = <the status we read>``),
so two requests racing to move the same order cannot both succeed; what entering a
state implies (stock back, a message for the warehouse) happens in the same transaction.
"""

import json

import sqlalchemy as sa
from flask import current_app

from .db import order_lines, orders, outbox, products
from .errors import ApiError

TRANSITIONS = {
    "pending": {"paid", "cancelled"},
    "paid": {"fulfilled", "refunded"},
    "fulfilled": {"refunded"},
    "cancelled": set(),
    "refunded": set(),
}


def now():
    return int(current_app.config["CLOCK"]())


def path(current, target):
    """The states to pass through from ``current`` to ``target`` (``[]`` if there is no way)."""
    routes, frontier = {current: []}, [current]
    while frontier:
        state = frontier.pop(0)
        for following in sorted(TRANSITIONS[state]):
            if following not in routes:
                routes[following] = routes[state] + [following]
                frontier.append(following)
    return routes.get(target, []) if target != current else []


def emit(conn, topic, payload):
    """Add a message to the outbox, in the caller's transaction (the worker publishes it)."""
    conn.execute(outbox.insert().values(topic=topic, payload=json.dumps(payload), created_at=now()))


def transition(conn, order_id, current, new):
    """Move the order from ``current`` to ``new``, or raise a 409 if that is not allowed or
    another request moved it first."""
    if new not in TRANSITIONS[current]:
        raise ApiError(409, f"an order cannot go from {current} to {new}")
    changed = conn.execute(orders.update().where(orders.c.id == order_id, orders.c.status == current)
                           .values(status=new)).rowcount
    if changed != 1:
        raise ApiError(409, f"order {order_id} is no longer {current}")
    if new == "cancelled":
        restock(conn, order_id)
    if new in ("paid", "refunded"):
        emit(conn, f"order.{new}", {"order_id": order_id})


def restock(conn, order_id):
    """Give a cancelled order's reserved stock back."""
    for line in conn.execute(sa.select(order_lines).where(order_lines.c.order_id == order_id)
                             .order_by(order_lines.c.product_id)).mappings():
        conn.execute(products.update().where(products.c.id == line["product_id"])
                     .values(stock=products.c.stock + line["quantity"]))


def advance(conn, order_id, target):
    """Walk the order to ``target`` along allowed transitions; nothing if it is there or past it."""
    current = conn.execute(sa.select(orders.c.status).where(orders.c.id == order_id)
                           .with_for_update()).scalar_one()
    for new in path(current, target):
        transition(conn, order_id, current, new)
        current = new
    return current
