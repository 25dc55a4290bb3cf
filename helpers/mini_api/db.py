"""Persistence for the books API through SQLAlchemy 2.0 (SQLite by default).

Each app gets its own engine (from ``app.config["DATABASE_URL"]``), so a test
that builds an app on a fresh database file never sees another test's rows.
A request gets one session (:func:`get_session`), closed when the request ends.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g
from sqlalchemy import Engine, String, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

__all__ = ["Base", "Book", "database_ready", "get_engine", "get_session", "init_app"]

log = logging.getLogger(__name__)
_ENGINE_KEY = "mini_api.engine"


class Base(DeclarativeBase):
    """Declarative base of the API's tables."""


class Book(Base):
    """A book in the library."""

    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(200), index=True)
    year: Mapped[int | None]

    def to_dict(self) -> dict:
        """The book as the JSON object the API returns."""
        return {"id": self.id, "title": self.title, "author": self.author, "year": self.year}


def _make_engine(url: str) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One shared connection, or every new connection would see a new empty database.
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    """Create the app's engine, its tables (when the database is reachable) and the session teardown."""
    engine = _make_engine(app.config["DATABASE_URL"])
    app.extensions[_ENGINE_KEY] = engine
    try:
        Base.metadata.create_all(engine)
    except SQLAlchemyError:
        # Start anyway: /readyz reports the database as unreachable until it is back.
        log.info("database unreachable at start-up; /readyz will answer 503")

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of ``app`` (default: the current app)."""
    return (app or current_app).extensions[_ENGINE_KEY]


def get_session() -> Session:
    """The current request's session (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = Session(get_engine())
    return g.db_session


def database_ready(engine: Engine) -> bool:
    """True if ``SELECT 1`` succeeds (tables are created on the first success)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        Base.metadata.create_all(engine)
    except SQLAlchemyError:
        return False
    return True
