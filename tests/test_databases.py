"""helpers.databases: an isolated database per call, plans, query counts (SQLite path).

The same helpers against PostgreSQL and MariaDB are exercised by tests/test_real_servers.py.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from helpers import databases
from helpers.databases import (
    analyze,
    count_queries,
    describe,
    drop,
    engine,
    explain,
    index_used,
    kind,
    server_url,
    show,
)


def test_default_is_sqlite_in_a_temporary_directory(db):
    assert kind(db) == "sqlite"
    assert describe(db).startswith("SQLite (embedded, a file in a temporary directory")
    assert "DATABASE_URL" in describe(db)


def test_each_label_gets_its_own_database_and_drop_removes_it(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    one, two = engine("iso-one"), engine("iso-two")
    with one.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    assert not sa.inspect(two).has_table("t")
    folder = Path(one.url.database).parent
    assert folder.exists()
    drop(one)
    drop(two)
    assert not folder.exists()


def test_same_label_replaces_the_previous_database(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = engine("rerun")
    folder = Path(first.url.database).parent
    second = engine("rerun")
    assert not folder.exists(), "re-running a cell must not pile up databases"
    drop(second)


def test_foreign_keys_are_enforced_on_sqlite(db):
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE a (id INTEGER PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, "
                          "FOREIGN KEY (a_id) REFERENCES a (id))"))
    with pytest.raises(sa.exc.IntegrityError), db.begin() as conn:
        conn.execute(text("INSERT INTO b (id, a_id) VALUES (1, 99)"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mysql+pymysql"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql"),
    ],
)
def test_server_url_fills_in_the_installed_driver(given, expected):
    assert server_url(given).drivername == expected


def test_server_url_empty_or_sqlite_means_sqlite():
    assert server_url("") is None
    assert server_url("sqlite:///x.db") is None


@pytest.mark.parametrize("bad", ["not a url", "oracle://u@h/db"])
def test_server_url_rejects_what_it_cannot_use_with_advice(bad):
    with pytest.raises(ValueError, match="unset it to use SQLite|Unset it to use SQLite"):
        server_url(bad)


def test_unreachable_server_says_what_to_do():
    with pytest.raises(ConnectionError, match="unset it to use SQLite"):
        engine("unreachable", url="postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_explain_and_index_used_see_the_index_appear(db):
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v INTEGER)"))
        rows = [{"id": i, "k": i % 50} for i in range(2000)]
        conn.execute(text("INSERT INTO t (id, k, v) VALUES (:id, :k, 0)"), rows)
    sql = "SELECT id, v FROM t WHERE k = :k"
    with db.connect() as conn:  # this connection keeps a cached plan ...
        assert explain(conn, sql, {"k": 3}) == ["SCAN t"]
        assert index_used(conn, sql, {"k": 3}) is None
        with db.connect() as other:  # ... while another one adds the index
            other.execute(text("CREATE INDEX ix_t_k ON t (k)"))
            analyze(other, "t")
            other.commit()
        conn.rollback()  # end the read transaction: its snapshot (WAL) predates the index
        assert index_used(conn, sql, {"k": 3}) == "ix_t_k"
        assert "USING INDEX ix_t_k" in explain(conn, sql, {"k": 3})[0]


def test_analyze_refuses_anything_but_a_table_name(db):
    with db.connect() as conn, pytest.raises(ValueError, match="not a plain table name"):
        analyze(conn, "t; DROP TABLE t")


def test_count_queries_counts_statements_and_detaches(db):
    with count_queries(db) as queries, db.connect() as conn:
        for _ in range(3):
            conn.execute(text("SELECT 1"))
    assert queries.count == 3
    assert queries.statements == ["SELECT 1"] * 3
    with db.connect() as conn:
        conn.execute(text("SELECT 2"))
    assert queries.count == 3, "the listener is removed when the block ends"


def test_show_prints_an_aligned_table_with_plain_numbers(db, capsys):
    with db.connect() as conn:
        show(conn.execute(text("SELECT 1 AS a, 'xyz' AS longer_name")))
    assert capsys.readouterr().out.splitlines() == ["a  longer_name", "-  -----------", "1  xyz"]
    assert databases._cell(Decimal("12")) == "12"
    assert databases._cell(2.5) == "2.50"


def test_show_marks_truncation(db, capsys):
    with db.connect() as conn:
        show(conn.execute(text("SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3")), limit=2)
    assert capsys.readouterr().out.splitlines()[-1] == "..."


def test_drop_leftovers_is_a_no_op_on_sqlite(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert databases.drop_leftovers() == []


def test_sqlite_reads_run_in_a_real_transaction(db):
    """A SELECT opens a transaction: a second read in it still sees its snapshot (WAL)."""
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)"))
        conn.execute(text("INSERT INTO acct VALUES (1, 100)"))
    read = text("SELECT balance FROM acct WHERE id = 1")
    with db.connect() as reader, db.connect() as writer:
        assert reader.execute(read).scalar() == 100
        writer.execute(text("UPDATE acct SET balance = 200 WHERE id = 1"))
        writer.commit()
        assert reader.execute(read).scalar() == 100, "the reader's transaction keeps its snapshot"
        reader.rollback()
        assert reader.execute(read).scalar() == 200


def test_sqlite_begin_immediate_takes_the_write_lock_at_begin(db):
    """sqlite_begin=IMMEDIATE: a second writer cannot even start while the first is open."""
    from helpers.databases import SQLITE_BEGIN

    with db.begin() as conn:
        conn.execute(text("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)"))
    with db.connect() as first, db.connect() as second:
        first = first.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        first.execute(text("SELECT 1"))
        second.connection.driver_connection.execute("PRAGMA busy_timeout = 50")  # fail fast
        second = second.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            second.execute(text("SELECT 1"))
        first.rollback()


def _read_then_write(db, results):
    """A lost-update-prone deposit: read in one statement, write the sum back in another."""
    with db.connect() as conn:
        balance = conn.execute(text("SELECT balance FROM acct WHERE id = 1")).scalar()
        conn.rollback()
        conn.execute(text("UPDATE acct SET balance = :b WHERE id = 1"), {"b": balance + 10})
        conn.commit()
        results.append(balance)


def test_force_read_race_makes_every_reader_read_before_anyone_writes(db):
    import threading

    from helpers.databases import force_read_race

    with db.begin() as conn:
        conn.execute(text("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)"))
        conn.execute(text("INSERT INTO acct VALUES (1, 100)"))
    seen: list[int] = []
    with force_read_race(db, 4, "acct"):
        threads = [threading.Thread(target=_read_then_write, args=(db, seen)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert seen == [100, 100, 100, 100], "all four read before any wrote"
    with db.connect() as conn:
        assert conn.execute(text("SELECT balance FROM acct")).scalar() == 110, "three deposits lost"


def test_force_read_race_opens_after_patience_and_detaches(db):
    import time

    from helpers.databases import force_read_race

    with db.begin() as conn:
        conn.execute(text("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER)"))
    with force_read_race(db, 5, "acct", patience=1.0):
        start = time.monotonic()
        with db.connect() as conn:  # a lone reader waits for the others only `patience` seconds
            conn.execute(text("SELECT balance FROM acct")).all()
            conn.execute(text("SELECT balance FROM acct")).all()  # the gate is open now
        assert 0.9 < time.monotonic() - start < 10
    start = time.monotonic()
    with db.connect() as conn:  # after the block, nobody waits
        conn.execute(text("SELECT balance FROM acct")).all()
    assert time.monotonic() - start < 0.9
    with pytest.raises(ValueError, match="parties"):
        with force_read_race(db, 0, "acct"):
            pass
