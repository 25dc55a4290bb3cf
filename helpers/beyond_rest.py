"""Plumbing for step 09 (APIs beyond REST): a seeded library database, a SQL query log,
a GraphQL schema class that does not log to stderr, and a server-sent events parser.

The notebook and the exercises keep the ideas (schemas, resolvers, loaders, framing)
in their own cells; this module only holds what would distract from them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator

import strawberry

__all__ = ["QueryLog", "QuietSchema", "make_library_db", "parse_sse"]

AUTHORS = [
    "Ursula K. Le Guin", "Frank Herbert", "Octavia E. Butler", "Iain M. Banks", "N. K. Jemisin",
]
TITLES = [
    "A Wizard of Earthsea", "The Dispossessed", "The Left Hand of Darkness", "The Lathe of Heaven",
    "Dune", "Dune Messiah", "Children of Dune", "The Dosadi Experiment",
    "Kindred", "Parable of the Sower", "Dawn", "Wild Seed",
    "Consider Phlebas", "The Player of Games", "Use of Weapons", "Excession",
    "The Fifth Season", "The Obelisk Gate", "The Stone Sky", "The City We Became",
]


def make_library_db(books_per_author: int = 4) -> sqlite3.Connection:
    """An in-memory SQLite database of 5 authors and their books (4 each by default).

    Deterministic data: book ``i`` (1-based) is ``TITLES[i-1]`` by author ``(i-1) // 4 + 1``.
    The connection may be used from the server's thread (``check_same_thread=False``);
    callers share it one request at a time.
    """
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.executescript("""
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, year INTEGER NOT NULL,
                            author_id INTEGER NOT NULL REFERENCES authors(id));
    """)
    conn.executemany("INSERT INTO authors (id, name) VALUES (?, ?)", enumerate(AUTHORS, start=1))
    rows = []
    for a in range(len(AUTHORS)):
        for b in range(books_per_author):
            i = a * books_per_author + b
            title = TITLES[i] if books_per_author == 4 else f"{AUTHORS[a].split()[-1]} volume {b + 1}"
            rows.append((i + 1, title, 1960 + 3 * i, a + 1))
    conn.executemany("INSERT INTO books (id, title, year, author_id) VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    return conn


class QueryLog:
    """Record every SQL statement a connection runs (``sqlite3``'s trace callback).

    ``with QueryLog(conn) as log: ...`` then ``log.count`` and ``log.statements``.
    The statements are the SQL as SQLite ran it, so bound parameters show as values
    here while string-built SQL looks the same: compare with what you sent.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.statements: list[str] = []
        self._lock = threading.Lock()

    def _trace(self, statement: str) -> None:
        with self._lock:
            self.statements.append(statement)

    @property
    def count(self) -> int:
        """How many statements ran (SELECTs and writes alike)."""
        return len(self.statements)

    def __enter__(self) -> QueryLog:
        self.statements.clear()
        self.conn.set_trace_callback(self._trace)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.conn.set_trace_callback(None)


class QuietSchema(strawberry.Schema):
    """A Strawberry schema that returns errors to the client without logging them.

    Strawberry logs every error in a response to the ``strawberry.execution`` logger,
    which ends up on stderr; the errors are in the response's ``errors`` array anyway,
    and nbval compares stderr. A production service would log them (structured, step 08).
    """

    def process_errors(self, errors, execution_context=None) -> None:  # noqa: D102
        pass


def parse_sse(lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """Parse a ``text/event-stream`` (decoded lines without newlines) into events.

    Each event is a dict with ``data`` (``data:`` lines joined by ``\\n``) and, when
    present, ``id`` and ``event``. A blank line ends an event; lines starting with
    ``:`` are comments (keep-alives). This is the part of the HTML spec's parser a
    test needs, not all of it (no ``retry:``).
    """
    event: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                event["data"] = "\n".join(data)
                yield event
            event, data = {}, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field in ("id", "event"):
            event[field] = value
