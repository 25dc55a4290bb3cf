"""A seeded online-shop dataset for step 03: customers, products, orders, items, reviews.

:func:`build` creates the tables (with their constraints) on any engine from
:mod:`helpers.databases` and fills them deterministically: the same ``seed`` gives
the same rows on SQLite, PostgreSQL and MariaDB. ``size="full"`` makes enough rows
(over 100,000 order items) for indexes to matter; ``size="small"`` is for exercises.

Money is stored as integer cents: floating point cannot represent 0.10 exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from operator import itemgetter

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["SIZES", "build", "metadata", "tables"]

metadata = sa.MetaData()

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(120), nullable=False, unique=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

products = sa.Table(
    "products", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sku", sa.String(20), nullable=False, unique=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("category", sa.String(30), nullable=False),
    sa.Column("price_cents", sa.Integer, sa.CheckConstraint("price_cents > 0"), nullable=False),
    sa.Column("stock", sa.Integer, sa.CheckConstraint("stock >= 0"), nullable=False),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("status IN ('paid', 'shipped', 'cancelled')", name="ck_orders_status"),
)

order_items = sa.Table(
    "order_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0"), nullable=False),
    sa.Column("unit_price_cents", sa.Integer, nullable=False),
)

reviews = sa.Table(
    "reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("rating", sa.Integer, sa.CheckConstraint("rating BETWEEN 1 AND 5"), nullable=False),
    sa.Column("title", sa.String(80), nullable=False),
)

tables = {t.name: t for t in (customers, products, orders, order_items, reviews)}

#: Rows per table: (customers, products, orders, order_items per order on average, reviews)
SIZES = {
    "full": {"customers": 5_000, "products": 500, "orders": 40_000, "items_per_order": 3, "reviews": 10_000},
    "small": {"customers": 200, "products": 50, "orders": 1_000, "items_per_order": 3, "reviews": 300},
}

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
         "Guido", "Edsger", "Radia", "Tim", "Katherine", "John", "Hedy", "Donald", "Sophie"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
        "Allen", "van Rossum", "Dijkstra", "Perlman", "Berners-Lee", "Johnson", "Backus", "Lamarr",
        "Knuth", "Wilson"]
COUNTRIES = ["DE", "FR", "GB", "IN", "NL", "PL", "US", "BR", "JP", "ES"]
CATEGORIES = {
    "books": ["Guide", "Handbook", "Cookbook", "Primer", "Notes"],
    "kitchen": ["Mug", "Kettle", "Teapot", "Grinder", "Tray"],
    "office": ["Notebook", "Pen", "Lamp", "Desk mat", "Stapler"],
    "garden": ["Shovel", "Hose", "Planter", "Gloves", "Rake"],
    "toys": ["Puzzle", "Robot", "Kite", "Yo-yo", "Blocks"],
}
ADJECTIVES = ["Blue", "Classic", "Compact", "Deluxe", "Eco", "Giant", "Mini", "Pro", "Quiet", "Red"]
START = datetime(2024, 1, 1)


def _rows(size: str, seed: int) -> dict[str, list[dict]]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    spec = SIZES[size]
    rng = random.Random(seed)  # noqa: S311 (reproducible fake data, not secrets)
    rows: dict[str, list[dict]] = {name: [] for name in tables}
    for cid in range(1, spec["customers"] + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows["customers"].append({
            "id": cid, "email": f"{first.lower()}.{last.lower().replace(' ', '')}{cid}@example.com",
            "name": f"{first} {last}", "country": rng.choice(COUNTRIES),
            "created_at": START + timedelta(minutes=rng.randrange(365 * 24 * 60)),
        })
    prices = {}
    category_names = sorted(CATEGORIES)
    for pid in range(1, spec["products"] + 1):
        category = category_names[(pid - 1) % len(category_names)]
        noun = rng.choice(CATEGORIES[category])
        price = rng.randrange(199, 9999)
        prices[pid] = price
        rows["products"].append({
            "id": pid, "sku": f"SKU-{pid:05d}", "name": f"{rng.choice(ADJECTIVES)} {noun} {pid}",
            "category": category, "price_cents": price, "stock": rng.randrange(0, 200),
        })
    item_id = 0
    n_customers, n_products = spec["customers"], spec["products"]
    # Bound once: 175,000 rows make the attribute look-ups add up. The calls, and so the
    # rows, are the same as rng.randrange(...) and rng.choices(..., weights=...) would give:
    # choices turns weights into these running totals itself on every call.
    randrange, random_, choice, choices = rng.randrange, rng.random, rng.choice, rng.choices
    randint, paretovariate = rng.randint, rng.paretovariate
    minutes_in_year = 365 * 24 * 60
    statuses, status_totals = ["paid", "shipped", "cancelled"], [3, 9, 10]  # weights 3, 6, 1
    quantities = [1, 1, 1, 2, 2, 3]
    most_items = 2 * spec["items_per_order"] - 1
    orders, items = rows["orders"], rows["order_items"]
    for oid in range(1, spec["orders"] + 1):
        # A few customers order a lot (a long tail, as in real shops).
        customer = min(int(paretovariate(1.2)), n_customers) if random_() < 0.2 \
            else randrange(1, n_customers + 1)
        status = choices(statuses, cum_weights=status_totals)[0]
        orders.append({
            "id": oid, "customer_id": customer, "status": status,
            "created_at": START + timedelta(minutes=randrange(minutes_in_year)),
        })
        for _ in range(randint(1, most_items)):
            item_id += 1
            product = randrange(1, n_products + 1)
            items.append({
                "id": item_id, "order_id": oid, "product_id": product,
                "quantity": choice(quantities), "unit_price_cents": prices[product],
            })
    titles = ["Great", "Does the job", "Broke quickly", "Love it", "Meh", "Worth the price"]
    ratings, rating_totals = [1, 2, 3, 4, 5], [1, 2, 4, 8, 13]  # weights 1, 1, 2, 4, 5
    for rid in range(1, spec["reviews"] + 1):
        rows["reviews"].append({
            "id": rid, "product_id": randrange(1, n_products + 1),
            "customer_id": randrange(1, n_customers + 1),
            "rating": choices(ratings, cum_weights=rating_totals)[0],
            "title": choice(titles),
        })
    return rows


def build(eng: Engine, size: str = "full", seed: int = 3) -> dict[str, int]:
    """Create the shop's tables on ``eng`` (replacing them) and fill them; return row counts."""
    rows = _rows(size, seed)
    metadata.drop_all(eng)
    metadata.create_all(eng)
    with eng.begin() as conn:
        for name, table in tables.items():
            batch = rows[name]
            if conn.dialect.name == "sqlite":
                sql, params = _driver_rows(conn.dialect, table, batch)
                for start in range(0, len(params), 20_000):
                    conn.exec_driver_sql(sql, params[start:start + 20_000])
            else:  # PostgreSQL and MariaDB: SQLAlchemy already sends multi-row INSERTs
                for start in range(0, len(batch), 20_000):
                    conn.execute(table.insert(), batch[start:start + 20_000])
    return {name: len(batch) for name, batch in rows.items()}


def _driver_rows(dialect: sa.Dialect, table: sa.Table, batch: list[dict]) -> tuple[str, list]:
    """``table``'s INSERT in the driver's own SQL, and ``batch`` as the driver takes it.

    What ``conn.execute(table.insert(), batch)`` would send, with each column type's
    conversion applied here (on SQLite a datetime becomes SQLAlchemy's text form), minus
    SQLAlchemy's per-row bookkeeping: on SQLite that costs more than the inserts themselves
    for the 175,000 rows of the full dataset (the same rows are stored either way).
    """
    keys = list(batch[0])
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    convert = {key: table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys}
    if compiled.positional:  # "?" or "%s" placeholders, in this order
        order = list(compiled.positiontup)
        converted = [(i, convert[key]) for i, key in enumerate(order) if convert[key]]
        pick = itemgetter(*order)
        params = [pick(row) for row in batch]  # tuples (every table has several columns)
        if converted:  # only these columns change (on SQLite: the datetimes)
            params = _convert_columns(params, converted)
        return str(compiled), params
    return str(compiled), [{key: convert[key](row[key]) if convert[key] else row[key] for key in keys}
                           for row in batch]


def _convert_columns(params: list[tuple], converted: list[tuple[int, Callable]]) -> list[tuple]:
    """``params`` with each column ``i`` of ``converted`` passed through its converter."""
    rows = [list(row) for row in params]
    for i, fix in converted:
        for row in rows:
            row[i] = fix(row[i])
    return [tuple(row) for row in rows]
