"""The database: SQLAlchemy Core tables, one engine per app, transactions that lock early.

SQLite by default (a file in the instance folder); ``DATABASE_URL`` names PostgreSQL or
MariaDB instead, and the same code runs there. Money is stored as integer cents.
"""

import sqlalchemy as sa
from flask import current_app

metadata = sa.MetaData()

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(10), nullable=False, server_default="customer"),
    sa.CheckConstraint("role IN ('customer', 'admin')", name="customer_role"),
)

products = sa.Table(
    "products", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("price_cents", sa.Integer, nullable=False),
    sa.Column("stock", sa.Integer, nullable=False),
    # The database refuses what the code must never do, whatever the code's bugs.
    sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
    sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
)

cart_items = sa.Table(
    "cart_items", metadata,
    sa.Column("customer_id", sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("product_id", sa.ForeignKey("products.id"), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.CheckConstraint("quantity BETWEEN 1 AND 100", name="cart_quantity"),
)

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("total_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("reference", sa.String(24), nullable=False, unique=True),  # random: keys the provider calls
    sa.Column("payment_intent", sa.String(64), unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.CheckConstraint("status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded')",
                       name="order_status"),
    sa.CheckConstraint("total_cents > 0", name="order_total"),
)

order_lines = sa.Table(
    "order_lines", metadata,
    sa.Column("order_id", sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("product_id", sa.ForeignKey("products.id"), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_cents", sa.Integer, nullable=False),  # the price when ordered
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("customer_id", sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("locked_at", sa.BigInteger),  # set while a request works under this key
    sa.Column("order_id", sa.ForeignKey("orders.id")),  # the recovery point of a retry
    sa.Column("response_status", sa.Integer),
    sa.Column("response_body", sa.Text),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("topic", sa.String(50), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("published_at", sa.BigInteger, index=True),
)

webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the provider's event id: each is handled once
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
)

fulfilments = sa.Table(
    "fulfilments", metadata,
    sa.Column("order_id", sa.ForeignKey("orders.id"), primary_key=True),  # one per order, ever
    sa.Column("fulfilled_at", sa.BigInteger, nullable=False),
)


def _sqlite_connect(dbapi_connection, connection_record):
    # Let SQLAlchemy send BEGIN itself (see _sqlite_begin), and wait for a busy writer.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.close()


def _sqlite_begin(conn):
    # BEGIN IMMEDIATE takes SQLite's write lock at the start: a transaction that reads and
    # then writes can then never fail half-way because another writer got in between.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url):
    """An Engine for ``url``; on SQLite every transaction takes the write lock at BEGIN."""
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def engine():
    """The current app's engine."""
    return current_app.extensions["shop_engine"]


def transaction():
    """``with transaction() as conn:`` commits at the end of the block, or rolls back."""
    return engine().begin()


def init_app(app):
    """Create the engine and any missing tables."""
    eng = make_engine(app.config["DATABASE_URL"])
    metadata.create_all(eng)
    app.extensions["shop_engine"] = eng
