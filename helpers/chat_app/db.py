"""Given: the data model. SQLAlchemy Core tables and the engine (SQLite unless DATABASE_URL)."""

import os

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(30), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
)

#: A session is a random token the client holds; the database keeps only its SHA-256, so a
#: leaked copy of this table logs nobody in.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

#: ``last_seq`` numbers the room's messages 1, 2, 3 ... with no gaps: a client resumes with
#: the last number it saw, and a receiver that sees 7 after 5 knows 6 exists.
rooms = sa.Table(
    "rooms", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("private", sa.Boolean, nullable=False, default=False),
    sa.Column("last_seq", sa.Integer, nullable=False, default=0),
)

memberships = sa.Table(
    "memberships", metadata,
    sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # as the user typed it: escaping is the output's job
    sa.Column("nonce", sa.String(64)),  # the client's id for a send, so a retried send is stored once
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("room_id", "seq"),  # also the index history reads by
    sa.UniqueConstraint("user_id", "nonce"),
)


def engine_from_env(default_path):
    """An engine on ``DATABASE_URL`` if set, else on the SQLite file ``default_path``."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{default_path}"
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", sqlite_pragmas)
    return engine


def sqlite_pragmas(dbapi_connection, connection_record):
    """Per SQLite connection: foreign keys on, WAL, wait for locks, sync less often."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA busy_timeout = 15000")
    # With WAL, NORMAL syncs at checkpoints, not at every commit: about 3x the messages a second.
    # A crash of the app loses nothing; a power cut may lose the last commits.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def create_tables(engine):
    """Create the tables that do not exist yet (a real deployment would use Alembic, step 03)."""
    metadata.create_all(engine)
