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
