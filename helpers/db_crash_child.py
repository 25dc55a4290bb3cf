"""The child process of :func:`helpers.db_failures.crash_mid_transfer`: ``python -m helpers.db_crash_child``.

It reads what to do as JSON on standard input (so a password never shows in a process
list), commits one transfer, begins a second, runs its debit, prints ``half-way`` and
waits to be killed. Only the standard library is imported for SQLite, so it starts fast.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any


def _child_sqlite(spec: dict[str, Any], announce: Callable[[], None]) -> None:
    """On SQLite: the second transaction also spills 600 kB of uncommitted pages into the WAL."""
    conn = sqlite3.connect(spec["path"], isolation_level=None)  # we send BEGIN/COMMIT ourselves
    conn.execute("PRAGMA busy_timeout = 15000")
    conn.execute("PRAGMA cache_size = 5")  # five pages: a large transaction spills to the WAL
    debit = f"UPDATE {spec['table']} SET balance = balance - ? WHERE id = ?"  # noqa: S608 - identifier checked
    credit = f"UPDATE {spec['table']} SET balance = balance + ? WHERE id = ?"  # noqa: S608
    conn.execute("BEGIN")
    conn.execute(debit, (spec["amount"], spec["source"]))
    conn.execute(credit, (spec["amount"], spec["target"]))
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute(debit, (spec["amount"], spec["source"]))
    conn.execute("CREATE TABLE crash_filler (payload BLOB)")
    conn.executemany("INSERT INTO crash_filler VALUES (randomblob(2000))", [()] * 300)
    announce()


def _child_server(spec: dict[str, Any], announce: Callable[[], None]) -> None:
    """On PostgreSQL or MariaDB, through SQLAlchemy (the schema, if any, as the search path)."""
    import sqlalchemy as sa  # only here: the SQLite child starts without it

    connect_args = {"options": f"-c search_path={spec['schema']}"} if spec["schema"] else {}
    eng = sa.create_engine(spec["url"], connect_args=connect_args)
    debit = sa.text(f"UPDATE {spec['table']} SET balance = balance - :amount WHERE id = :id")  # noqa: S608
    credit = sa.text(f"UPDATE {spec['table']} SET balance = balance + :amount WHERE id = :id")  # noqa: S608
    with eng.begin() as conn:
        conn.execute(debit, {"amount": spec["amount"], "id": spec["source"]})
        conn.execute(credit, {"amount": spec["amount"], "id": spec["target"]})
    conn = eng.connect()
    conn.execute(debit, {"amount": spec["amount"], "id": spec["source"]})
    announce()


def _child_main() -> None:
    spec = json.loads(sys.stdin.read())
    if not str(spec["table"]).isidentifier():
        raise SystemExit(f"not a plain table name: {spec['table']!r}")

    def announce() -> None:
        print("half-way", flush=True)
        time.sleep(600)  # the parent kills us here: the second transfer's credit never runs

    (_child_sqlite if spec["kind"] == "sqlite" else _child_server)(spec, announce)
    raise SystemExit("the child was not killed")


if __name__ == "__main__":
    _child_main()
