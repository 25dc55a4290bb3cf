"""The catalogue: anyone lists and reads products; only admins add or change them."""

import re

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from .auth import require_admin
from .db import engine, products, transaction
from .errors import ApiError, int_field, json_body, text_field
from .money import MAX_CENTS, display

bp = Blueprint("catalog", __name__)
SKU = re.compile(r"[A-Z0-9-]{1,40}")
MAX_STOCK = 1_000_000


def product_json(row):
    currency = current_app.config["CURRENCY"]
    return {"id": row["id"], "sku": row["sku"], "name": row["name"], "price_cents": row["price_cents"],
            "price": display(row["price_cents"], currency), "currency": currency, "stock": row["stock"]}


def get_product(conn, product_id):
    row = conn.execute(sa.select(products).where(products.c.id == product_id)).mappings().first()
    if row is None:
        raise ApiError(404, "no such product")
    return row


def page_number():
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise ApiError(400, "page must be a whole number from 1 to 10000")
    return int(raw)


@bp.get("/api/products")
def list_products():
    page, size = page_number(), current_app.config["PRODUCTS_PER_PAGE"]
    with engine().connect() as conn:
        rows = conn.execute(sa.select(products).order_by(products.c.id)
                            .limit(size).offset((page - 1) * size)).mappings().all()
        total = conn.execute(sa.select(sa.func.count()).select_from(products)).scalar_one()
    return jsonify(products=[product_json(r) for r in rows], page=page, total=total)


@bp.get("/api/products/<id:product_id>")
def show_product(product_id):
    with engine().connect() as conn:
        return jsonify(product_json(get_product(conn, product_id)))


@bp.post("/api/products")
def create_product():
    require_admin()
    body = json_body(request)
    sku = body.get("sku")
    if not isinstance(sku, str) or not SKU.fullmatch(sku):
        raise ApiError(400, "sku must be 1 to 40 capital letters, digits or dashes")
    values = {"sku": sku, "name": text_field(body, "name", 200),
              "price_cents": int_field(body, "price_cents", 0, MAX_CENTS),
              "stock": int_field(body, "stock", 0, MAX_STOCK)}
    try:
        with transaction() as conn:
            new_id = conn.execute(products.insert().values(**values)).inserted_primary_key[0]
            row = get_product(conn, new_id)
    except sa.exc.IntegrityError:
        raise ApiError(409, "that sku exists") from None
    return jsonify(product_json(row)), 201


@bp.patch("/api/products/<id:product_id>")
def change_product(product_id):
    """Change the name, price or stock. Orders keep the price they were placed at."""
    require_admin()
    body = json_body(request)
    limits = {"price_cents": (0, MAX_CENTS), "stock": (0, MAX_STOCK)}
    changes = {name: int_field(body, name, *limits[name]) for name in limits if name in body}
    if "name" in body:
        changes["name"] = text_field(body, "name", 200)
    if not changes:
        raise ApiError(400, "give at least one of name, price_cents, stock")
    with transaction() as conn:
        get_product(conn, product_id)
        conn.execute(products.update().where(products.c.id == product_id).values(**changes))
        return jsonify(product_json(get_product(conn, product_id)))
