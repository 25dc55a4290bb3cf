"""helpers.db_failures: lock waits, a crash mid-transaction, backup and restore, run for real.

SQLite (the default) always; PostgreSQL and MariaDB, marked ``realserver``, when they answer.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from helpers import databases
from helpers.db_failures import (
    background_writes,
    crash_mid_transfer,
    integrity_check,
    lock_held,
    online_backup,
    pg_dump_table,
    pg_restore_file,
    pg_tools_missing,
    restore,
    try_write,
)

SERVERS = {
    "postgresql": os.environ.get("LAB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("LAB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def _server_engine(name, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    try:
        return databases.engine(f"failures-{name}", url=SERVERS[name])
    except ConnectionError as error:
        pytest.skip(f"{name} not reachable: {error}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.realserver),
                        pytest.param("mariadb", marks=pytest.mark.realserver)])
def any_db(request, monkeypatch):
    """A database with an ``accounts`` table (alice 100, bob 50) on each engine."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if request.param == "sqlite":
        eng = databases.engine("failures")
    else:
        eng = _server_engine(request.param, monkeypatch)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner VARCHAR(20) NOT NULL, "
                          "balance INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO accounts (id, owner, balance) "
                          "VALUES (1, 'alice', 100), (2, 'bob', 50)"))
    yield eng
    databases.drop(eng)


def balances(eng):
    with eng.connect() as conn:
        return dict(conn.execute(text("SELECT owner, balance FROM accounts ORDER BY id")).all())


ALICE = "UPDATE accounts SET balance = balance + 1 WHERE id = 1"
BOB = "UPDATE accounts SET balance = balance + 1 WHERE id = 2"


def test_a_writer_gives_up_after_its_lock_wait_while_another_holds_the_row(any_db):
    with lock_held(any_db, ALICE):
        attempt = try_write(any_db, ALICE, lock_wait=0.3)
    assert not attempt.ok
    assert 0.25 <= attempt.waited < 5, f"it should wait about its 0.3 s bound, waited {attempt.waited:.3f} s"
    expected = {"sqlite": "database is locked", "postgresql": "lock timeout", "mariadb": "Lock wait timeout"}
    assert expected[databases.kind(any_db)] in attempt.error
    assert balances(any_db) == {"alice": 100, "bob": 50}, "neither the holder nor the loser changed anything"


def test_sqlite_locks_the_whole_database_servers_lock_the_row(any_db):
    with lock_held(any_db, ALICE):
        other_row = try_write(any_db, BOB, lock_wait=0.3)
    if databases.kind(any_db) == "sqlite":
        assert not other_row.ok and "database is locked" in other_row.error
    else:
        assert other_row.ok, f"a row lock must not block another row: {other_row}"
        assert other_row.waited < 0.25
        assert balances(any_db)["bob"] == 51


def test_a_long_enough_wait_succeeds_once_the_holder_finishes(any_db):
    with lock_held(any_db, ALICE, release_after=0.4):
        attempt = try_write(any_db, ALICE, lock_wait=10)
    assert attempt.ok, attempt
    # The holder's 0.4 s start when it took the lock, a little before the waiter began.
    assert 0.1 <= attempt.waited < 8, f"it had to wait for the holder's 0.4 s, waited {attempt.waited:.3f} s"
    assert balances(any_db)["alice"] == 101, "the holder rolled back; the waiter's +1 committed"


def test_try_write_without_contention_commits_at_once(db):
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    attempt = try_write(db, "UPDATE t SET n = n + :d WHERE id = 1", {"d": 5}, lock_wait=1)
    assert attempt.ok and attempt.waited < 0.5 and attempt.error is None
    with db.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar() == 5


def test_try_write_raises_what_is_not_a_lock_and_restores_the_busy_timeout(db):
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        try_write(db, "UPDATE missing SET x = 1", lock_wait=0.1)
    with db.connect() as conn:  # the pooled connection got its 15 s back
        assert conn.connection.driver_connection.execute("PRAGMA busy_timeout").fetchone()[0] == 15000


def test_lock_held_hands_the_holders_error_to_the_caller(db):
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        with lock_held(db, "UPDATE missing SET x = 1"):
            pass


def test_a_crash_mid_transaction_keeps_the_committed_transfer_and_drops_the_half(any_db):
    report = crash_mid_transfer(any_db, 1, 2, 30)
    assert report.killed and report.exit_code != 0
    assert balances(any_db) == {"alice": 70, "bob": 80}, "one whole transfer, none of the half"
    assert not sa.inspect(any_db).has_table("crash_filler"), "the uncommitted table must vanish too"
    if databases.kind(any_db) == "sqlite":
        assert report.wal_bytes_at_kill > 300 * 2000, "the uncommitted filler spilled into the WAL"
        assert integrity_check(any_db.url.database) == "ok"
    else:
        assert report.wal_bytes_at_kill is None


def test_crash_refuses_a_table_name_that_is_not_an_identifier(db):
    with pytest.raises(ValueError, match="plain table name"):
        crash_mid_transfer(db, 1, 2, 30, table="accounts; DROP TABLE x")


@pytest.fixture
def ledger(db):
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE ledger (id INTEGER PRIMARY KEY)"))
    return db


def ledger_ids(path_or_engine):
    eng = path_or_engine if isinstance(path_or_engine, sa.Engine) else sa.create_engine(f"sqlite:///{path_or_engine}")
    try:
        with eng.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT id FROM ledger ORDER BY id"))]
    finally:
        if eng is not path_or_engine:
            eng.dispose()


def test_online_backup_is_a_consistent_snapshot_while_writes_go_on(ledger, tmp_path):
    copy = tmp_path / "backup.db"
    with background_writes(ledger, "ledger") as writer:
        at_start = writer.committed
        report = online_backup(ledger, copy, pages_per_step=1, progress=writer.wait_for_commit)
        during = writer.committed - at_start
    assert report.steps >= 2 and report.pages >= 2 and report.path == copy
    assert during >= report.steps - 1, "the writer committed between the steps of the copy"
    saved = ledger_ids(copy)
    assert saved == list(range(1, len(saved) + 1)), "no gaps: a prefix of the committed rows"
    assert at_start <= len(saved) < writer.committed, "the copy is the moment it began, not later"
    assert integrity_check(copy) == "ok"


def test_restore_brings_back_exactly_what_the_backup_held(ledger, tmp_path):
    with ledger.begin() as conn:
        conn.execute(text("INSERT INTO ledger (id) VALUES (1), (2), (3)"))
    copy = online_backup(ledger, tmp_path / "backup.db").path
    with ledger.begin() as conn:
        conn.execute(text("DELETE FROM ledger WHERE id < 3"))
        conn.execute(text("INSERT INTO ledger (id) VALUES (9)"))
    restore(copy, ledger)
    assert ledger_ids(ledger) == [1, 2, 3]
    assert integrity_check(ledger.url.database) == "ok"


def test_background_writes_reraise_the_writers_error(db):
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        with background_writes(db, "missing"):
            pass


def test_sqlite_tools_refuse_other_engines_and_pg_tools_refuse_sqlite(db, tmp_path):
    with pytest.raises(ValueError, match="PostgreSQL"):
        pg_dump_table(db, "ledger", tmp_path / "x.dump")
    assert "works on PostgreSQL" in pg_tools_missing(db)


@pytest.mark.realserver
def test_pg_tools_older_than_the_server_or_absent_are_reported(monkeypatch, tmp_path):
    eng = _server_engine("postgresql", monkeypatch)
    try:
        fake = tmp_path / "pg_dump"
        fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert "older than the PostgreSQL" in pg_tools_missing(eng)
        fake.unlink()
        assert "not on PATH" in pg_tools_missing(eng)
    finally:
        databases.drop(eng)


@pytest.mark.realserver
def test_pg_dump_and_restore_bring_a_table_back(monkeypatch, tmp_path):
    eng = _server_engine("postgresql", monkeypatch)
    try:
        if pg_tools_missing(eng):
            pytest.skip(pg_tools_missing(eng))
        with eng.begin() as conn:
            conn.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner VARCHAR(20), "
                              "balance INTEGER)"))
            conn.execute(text("INSERT INTO accounts VALUES (1, 'alice', 100), (2, 'bob', 50)"))
        dump = pg_dump_table(eng, "accounts", tmp_path / "accounts.dump")
        assert dump.stat().st_size > 0
        with eng.begin() as conn:
            conn.execute(text("UPDATE accounts SET balance = 0"))
            conn.execute(text("INSERT INTO accounts VALUES (3, 'mallory', 999)"))
        pg_restore_file(eng, dump)
        assert balances(eng) == {"alice": 100, "bob": 50}
        with pytest.raises(ValueError, match="SQLite"):
            online_backup(eng, tmp_path / "x.db")
    finally:
        databases.drop(eng)
