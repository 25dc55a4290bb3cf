"""Each customer's cart: product ids and quantities; prices are read at checkout."""

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from .auth import current_customer
from .catalog import get_product
from .db import cart_items, engine, products, transaction
from .errors import int_field, json_body

bp = Blueprint("cart", __name__)
MAX_QUANTITY = 100


def cart_lines(conn, customer_id):
    """The cart's lines with today's prices, ordered by product id."""
    query = (sa.select(cart_items.c.product_id, cart_items.c.quantity, products.c.name,
                       products.c.price_cents)
             .join(products, products.c.id == cart_items.c.product_id)
             .where(cart_items.c.customer_id == customer_id).order_by(cart_items.c.product_id))
    return [dict(r) for r in conn.execute(query).mappings()]


def cart_json(conn, customer_id):
    lines = [line | {"line_total_cents": line["quantity"] * line["price_cents"]}
             for line in cart_lines(conn, customer_id)]
    return {"items": lines, "total_cents": sum(line["line_total_cents"] for line in lines)}


@bp.get("/api/cart")
def show_cart():
    customer = current_customer()
    with engine().connect() as conn:
        return jsonify(cart_json(conn, customer["id"]))


@bp.put("/api/cart/items/<id:product_id>")
def set_quantity(product_id):
    """Set a line's quantity (1 to 100). Stock is not reserved until checkout."""
    customer = current_customer()
    quantity = int_field(json_body(request), "quantity", 1, MAX_QUANTITY)
    with transaction() as conn:
        get_product(conn, product_id)
        key = {"customer_id": customer["id"], "product_id": product_id}
        updated = conn.execute(cart_items.update().filter_by(**key).values(quantity=quantity)).rowcount
        if not updated:
            conn.execute(cart_items.insert().values(**key, quantity=quantity))
        return jsonify(cart_json(conn, customer["id"]))


@bp.delete("/api/cart/items/<id:product_id>")
def remove_line(product_id):
    customer = current_customer()
    with transaction() as conn:
        get_product(conn, product_id)
        conn.execute(cart_items.delete().filter_by(customer_id=customer["id"], product_id=product_id))
        return jsonify(cart_json(conn, customer["id"]))
