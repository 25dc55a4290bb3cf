"""helpers.dataset: the seeded shop is deterministic, constrained, big enough and fast."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from helpers import dataset


def test_full_dataset_is_large_enough_to_show_index_effects(db):
    counts = dataset.build(db)  # its build time is measured by `make bench`, not asserted
    assert max(counts.values()) >= 100_000, counts
    with db.connect() as conn:
        for name, expected in counts.items():
            stored = conn.execute(sa.select(sa.func.count()).select_from(dataset.tables[name])).scalar()
            assert stored == expected, f"{name}: {stored} rows stored, {expected} built"


def test_same_seed_same_rows_and_another_seed_differs(db):
    first = dataset._rows("small", 3)
    assert first == dataset._rows("small", 3)
    assert first["orders"] != dataset._rows("small", 4)["orders"]


def test_build_replaces_existing_tables(db):
    dataset.build(db, "small")
    counts = dataset.build(db, "small")
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM customers")).scalar() == counts["customers"]


def test_constraints_reject_bad_rows(db):
    dataset.build(db, "small")
    order = "INSERT INTO orders (id, customer_id, status, created_at) VALUES "
    bad = [
        order + "(999999, 1, 'lost', '2024-01-01')",  # status not in the list
        order + "(999999, 99999, 'paid', '2024-01-01')",  # no such customer
        "INSERT INTO products (id, sku, name, category, price_cents, stock) "
        "VALUES (9999, 'X', 'x', 'toys', 0, 1)",  # a free product
        "INSERT INTO reviews (id, product_id, customer_id, rating, title) VALUES (99999, 1, 1, 6, 'x')",
    ]
    for statement in bad:
        with pytest.raises(sa.exc.IntegrityError), db.begin() as conn:
            conn.execute(text(statement))


def test_every_order_has_items_and_prices_are_positive(db):
    dataset.build(db, "small")
    with db.connect() as conn:
        empty = conn.execute(text(
            "SELECT COUNT(*) FROM orders o LEFT JOIN order_items i ON i.order_id = o.id WHERE i.id IS NULL"
        )).scalar()
        statuses = {s for (s,) in conn.execute(text("SELECT DISTINCT status FROM orders"))}
    assert empty == 0
    assert statuses == {"paid", "shipped", "cancelled"}


def test_unknown_size_is_a_clear_error(db):
    with pytest.raises(ValueError, match="size must be one of"):
        dataset.build(db, "huge")


def test_the_fast_sqlite_path_stores_what_sqlalchemy_core_would(db, tmp_path):
    """build() hands SQLite ready rows; the stored text (datetimes included) matches Core inserts."""
    dataset.build(db, "small")
    core = sa.create_engine(f"sqlite:///{tmp_path / 'core.db'}")
    rows = dataset._rows("small", 3)
    dataset.metadata.create_all(core)
    with core.begin() as conn:
        for name, table in dataset.tables.items():
            conn.execute(table.insert(), rows[name])

    def stored(eng):
        with eng.connect() as conn:
            return {name: conn.execute(text(f"SELECT * FROM {name} ORDER BY id")).all()  # noqa: S608
                    for name in dataset.tables}

    try:
        assert stored(db) == stored(core)
        with db.connect() as conn:
            created = conn.execute(text("SELECT created_at FROM orders ORDER BY id LIMIT 1")).scalar()
        assert created.count(":") == 2 and "." in created, created  # SQLAlchemy's text form of a datetime
    finally:
        core.dispose()
