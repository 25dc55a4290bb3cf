"""Database failure modes, run for real: lock waits, a crash mid-transaction, backup and restore.

Step 03's walkthrough uses it on the database :func:`helpers.databases.engine` gave it
(SQLite by default; PostgreSQL or MariaDB when ``DATABASE_URL`` is set):

- :func:`lock_held` makes another connection, in its own thread, write a row and keep its
  transaction open; :func:`try_write` then writes with a bounded wait for locks and reports
  whether it got them and how long it waited. The bound is SQLite's ``busy_timeout``,
  PostgreSQL's ``lock_timeout`` or MariaDB's ``innodb_lock_wait_timeout``.
- :func:`crash_mid_transfer` runs a child process that commits one transfer, starts a
  second one, and is killed (SIGKILL: no handler, no cleanup) between its two updates.
- :func:`online_backup` copies a live SQLite database with sqlite3's online backup API
  while :func:`background_writes` keeps committing; :func:`restore` copies a backup back.
  :func:`pg_dump_table` and :func:`pg_restore_file` do the same job on PostgreSQL with its
  own tools, when they are on ``PATH``.
The child of :func:`crash_mid_transfer` is :mod:`helpers.db_crash_child`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from helpers.databases import kind

__all__ = [
    "BackupReport",
    "CrashReport",
    "WriteAttempt",
    "background_writes",
    "crash_mid_transfer",
    "integrity_check",
    "lock_held",
    "online_backup",
    "pg_dump_table",
    "pg_restore_file",
    "pg_tools_missing",
    "restore",
    "try_write",
]


# --------------------------------------------------------------------------- locks


@dataclass(frozen=True)
class WriteAttempt:
    """What :func:`try_write` saw: ``ok`` (committed), seconds ``waited``, the driver's ``error``."""

    ok: bool
    waited: float
    error: str | None = None

    def __str__(self) -> str:
        return "committed" if self.ok else f"failed: {self.error}"


def _is_lock_error(error: sa.exc.DBAPIError) -> bool:
    """A lock that was not granted in time: SQLite's busy error, PostgreSQL 55P03, MariaDB 1205."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "55P03":
        return True
    if orig is not None and getattr(orig, "args", None) and orig.args[0] == 1205:
        return True
    return "database is locked" in str(orig)


def _message(error: sa.exc.DBAPIError) -> str:
    """The first line of the driver's message, without MariaDB's (code, text) tuple dress."""
    orig = error.orig
    args = getattr(orig, "args", ())
    text = args[1] if len(args) == 2 and isinstance(args[0], int) else str(orig)
    return str(text).strip().splitlines()[0]


@contextlib.contextmanager
def _lock_wait(conn: Connection, seconds: float) -> Iterator[None]:
    """Make ``conn`` wait at most ``seconds`` for a lock held by another transaction."""
    flavour = kind(conn)
    if flavour == "sqlite":
        driver = conn.connection.driver_connection
        previous = driver.execute("PRAGMA busy_timeout").fetchone()[0]
        driver.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")  # an int: nothing to inject
        try:
            yield
        finally:
            driver.execute(f"PRAGMA busy_timeout = {int(previous)}")
    elif flavour == "postgresql":
        # SET LOCAL-equivalent: the setting ends with the transaction, even in a pooled connection.
        conn.execute(sa.text("SELECT set_config('lock_timeout', :ms, true)"),
                     {"ms": f"{int(seconds * 1000)}ms"})
        yield
    else:  # MariaDB/MySQL count whole seconds, at least one
        conn.execute(sa.text("SET SESSION innodb_lock_wait_timeout = :s"), {"s": max(1, math.ceil(seconds))})
        try:
            yield
        finally:
            conn.execute(sa.text("SET SESSION innodb_lock_wait_timeout = DEFAULT"))


def try_write(eng: Engine, sql: str, params: Mapping[str, Any] | None = None, *,
              lock_wait: float) -> WriteAttempt:
    """Run ``sql`` in a transaction of its own, waiting at most ``lock_wait`` seconds for locks.

    Commits when it got them; returns a :class:`WriteAttempt` with the time spent. A lock
    that was not granted in time is reported, not raised; any other error is raised.
    """
    with eng.connect() as conn:
        start = time.perf_counter()
        try:
            with _lock_wait(conn, lock_wait):
                conn.execute(sa.text(sql), dict(params or {}))
                conn.commit()
        except sa.exc.DBAPIError as error:
            waited = time.perf_counter() - start
            conn.rollback()
            if not _is_lock_error(error):
                raise
            return WriteAttempt(False, waited, _message(error))
        return WriteAttempt(True, time.perf_counter() - start)


class _Holder(threading.Thread):
    """A connection, in a thread of its own, that writes and keeps its transaction open."""

    def __init__(self, eng: Engine, sql: str, params: Mapping[str, Any], release_after: float | None):
        super().__init__(daemon=True, name="lock-holder")
        self.eng, self.sql, self.params, self.release_after = eng, sql, dict(params), release_after
        self.holding = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.eng.connect() as conn:
                conn.execute(sa.text(self.sql), self.params)  # the transaction keeps its locks ...
                self.holding.set()
                self.release.wait(self.release_after)  # ... until released, or the time is up
                conn.rollback()
        except BaseException as error:  # handed to the caller's thread by lock_held
            self.error = error
            self.holding.set()


@contextlib.contextmanager
def lock_held(eng: Engine, sql: str, params: Mapping[str, Any] | None = None, *,
              release_after: float | None = None) -> Iterator[None]:
    """While the block runs, another connection has run ``sql`` and holds its locks.

    The other transaction is rolled back when the block ends, or after ``release_after``
    seconds if that comes first (so a waiting writer in the block can then go on).
    """
    holder = _Holder(eng, sql, params or {}, release_after)
    holder.start()
    holder.holding.wait(30)
    if holder.error is not None:
        raise holder.error
    try:
        yield
    finally:
        holder.release.set()
        holder.join(30)


# --------------------------------------------------------------------------- crash


@dataclass(frozen=True)
class CrashReport:
    """The killed child: its exit code, and (SQLite) the write-ahead log's size when it died."""

    exit_code: int
    wal_bytes_at_kill: int | None

    @property
    def killed(self) -> bool:
        """True if a signal (or, on Windows, TerminateProcess) ended it, not its own exit."""
        return self.exit_code != 0


def _child_spec(eng: Engine) -> dict[str, Any]:
    if kind(eng) == "sqlite":
        return {"kind": "sqlite", "path": eng.url.database}
    schema = None
    if kind(eng) == "postgresql":
        with eng.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    return {"kind": kind(eng), "url": eng.url.render_as_string(hide_password=False), "schema": schema}


def crash_mid_transfer(eng: Engine, source: int, target: int, amount: int, *,
                       table: str = "accounts", timeout: float = 30) -> CrashReport:
    """A child process commits a transfer, then is killed half-way through a second one.

    The child moves ``amount`` from ``source`` to ``target`` in ``table`` (a column
    ``balance``) and commits; then it begins the same transfer again, runs the debit, and
    says so. The parent kills it there, with SIGKILL (TerminateProcess on Windows): the
    credit never runs and the transaction never ends. On SQLite the child also writes
    filler rows in that transaction with a tiny page cache, so uncommitted pages spill
    into the write-ahead log on disk before the kill.
    """
    if not table.isidentifier():
        raise ValueError(f"not a plain table name: {table!r}")
    spec = {**_child_spec(eng), "table": table, "source": source, "target": target, "amount": amount}
    child = subprocess.Popen([sys.executable, "-m", "helpers.db_crash_child"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        child.stdin.write(json.dumps(spec))
        child.stdin.close()
        said = child.stdout.readline().strip()
        if said != "half-way":
            child.wait(timeout)
            raise RuntimeError(f"the child stopped before the crash point (said {said!r}, "
                               f"exit code {child.returncode})")
        wal = Path(f"{eng.url.database}-wal") if spec["kind"] == "sqlite" else None
        wal_bytes = wal.stat().st_size if wal and wal.exists() else None
        os.kill(child.pid, getattr(signal, "SIGKILL", signal.SIGTERM))  # SIGTERM: TerminateProcess on Windows
        return CrashReport(child.wait(timeout), wal_bytes)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout)
        child.stdout.close()


# --------------------------------------------------------------------------- backup


class _Writer(threading.Thread):
    """Commits one row at a time into a table until stopped; counts what it committed."""

    def __init__(self, eng: Engine, table: str):
        super().__init__(daemon=True, name="background-writes")
        self.eng, self.table = eng, table
        self.committed = 0
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        insert = sa.text(f"INSERT INTO {self.table} (id) VALUES (:id)")  # noqa: S608 - identifier checked
        try:
            while not self.stop.is_set():
                with self.eng.begin() as conn:
                    conn.execute(insert, {"id": self.committed + 1})
                with self.changed:
                    self.committed += 1
                    self.changed.notify_all()
        except BaseException as error:
            self.error = error
            with self.changed:
                self.changed.notify_all()

    def wait_for_commit(self, *_: object, timeout: float = 10) -> None:
        """Block until the writer commits at least one more row (a backup ``progress`` callback)."""
        with self.changed:
            seen = self.committed
            if not self.changed.wait_for(lambda: self.committed > seen or self.error is not None, timeout):
                raise TimeoutError("the background writer committed nothing for 10 s")


@contextlib.contextmanager
def background_writes(eng: Engine, table: str) -> Iterator[_Writer]:
    """A thread committing rows 1, 2, 3, ... into ``table`` (one ``id`` column) while the block runs.

    Yields the writer: ``committed`` counts its rows, ``wait_for_commit()`` waits for one more.
    """
    if not table.isidentifier():
        raise ValueError(f"not a plain table name: {table!r}")
    writer = _Writer(eng, table)
    writer.start()
    writer.wait_for_commit()
    try:
        yield writer
    finally:
        writer.stop.set()
        writer.join(30)
    if writer.error is not None:
        raise writer.error


@dataclass(frozen=True)
class BackupReport:
    """An online backup: where it went, how many pages, in how many steps."""

    path: Path
    pages: int
    steps: int


def _sqlite_path(eng: Engine) -> str:
    if kind(eng) != "sqlite":
        raise ValueError(f"sqlite3's backup API copies SQLite databases; this engine is {kind(eng)}")
    return str(eng.url.database)


def online_backup(eng: Engine, dest: str | Path, *, pages_per_step: int = 256,
                  progress: Callable[[int, int, int], object] | None = None) -> BackupReport:
    """Copy the live SQLite database of ``eng`` to ``dest`` with sqlite3's online backup API.

    The copy runs in steps of ``pages_per_step`` pages, all inside one read transaction on
    the source: in WAL mode writers go on committing meanwhile, and the copy is the database
    exactly as it was when that transaction began (without it, a write between two steps
    would make SQLite restart the copy from the first page). ``progress(status, remaining,
    total)`` is called after each step.
    """
    dest = Path(dest)
    steps = 0

    def step(status: int, remaining: int, total: int) -> None:
        nonlocal steps
        steps += 1
        if progress is not None:
            progress(status, remaining, total)

    source = sqlite3.connect(_sqlite_path(eng), isolation_level=None)
    target = sqlite3.connect(dest)
    try:
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        source.backup(target, pages=pages_per_step, progress=step)
        source.execute("COMMIT")
        pages = target.execute("PRAGMA page_count").fetchone()[0]
    finally:
        target.close()
        source.close()
    return BackupReport(dest, pages, steps)


def restore(backup: str | Path, eng: Engine) -> None:
    """Replace the SQLite database of ``eng`` with the backup file ``backup`` (page by page).

    The engine's pooled connections are closed first, so none keeps a view of the old data.
    """
    eng.dispose()
    source = sqlite3.connect(Path(backup))
    target = sqlite3.connect(_sqlite_path(eng))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def integrity_check(path: str | Path) -> str:
    """SQLite's ``PRAGMA integrity_check`` on a database file: ``'ok'`` or the problems found."""
    conn = sqlite3.connect(Path(path))
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def _pg_tool(tool: str, eng: Engine) -> str:
    """The path of ``tool`` (pg_dump, pg_restore) able to work with the engine's server.

    pg_dump refuses a server newer than itself, so a tool older than the server is no tool.
    """
    if kind(eng) != "postgresql":
        raise ValueError(f"{tool} works on PostgreSQL; this engine is {kind(eng)}")
    exe = shutil.which(tool)
    if exe is None:
        raise FileNotFoundError(f"{tool} is not on PATH (it comes with PostgreSQL's client tools)")
    said = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    found = re.search(r"\)\s+(\d+)", said)  # "pg_dump (PostgreSQL) 15.20 ..."
    with eng.connect() as conn:
        server = int(conn.execute(sa.text("SHOW server_version_num")).scalar()) // 10_000
    if found is None or int(found.group(1)) < server:
        raise FileNotFoundError(f"{tool} on PATH is {said.strip()!r}, older than the PostgreSQL {server} "
                                f"server; install client tools {server} or newer")
    return exe


def pg_tools_missing(eng: Engine) -> str | None:
    """Why pg_dump and pg_restore cannot back up ``eng`` here, or None when they can."""
    try:
        for tool in ("pg_dump", "pg_restore"):
            _pg_tool(tool, eng)
    except (ValueError, FileNotFoundError) as reason:
        return str(reason)
    return None


def _pg_command(tool: str, eng: Engine) -> tuple[list[str], dict[str, str]]:
    """The tool's command line for ``eng`` (password in the environment, not the arguments)."""
    exe = _pg_tool(tool, eng)
    url = eng.url
    host = url.host or url.query.get("host") or "127.0.0.1"  # a Unix socket's folder is a host too
    args = [exe, "--host", str(host), "--port", str(url.port or 5432),
            "--username", url.username or "postgres", "--dbname", url.database or "postgres", "--no-password"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where `ps` shows it
    return args, env


def pg_dump_table(eng: Engine, table: str, dest: str | Path) -> Path:
    """``pg_dump`` one table of the engine's schema to ``dest`` in the custom (compressed) format."""
    if not table.isidentifier():
        raise ValueError(f"not a plain table name: {table!r}")
    args, env = _pg_command("pg_dump", eng)
    with eng.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    subprocess.run([*args, "--format=custom", "--table", f"{schema}.{table}", "--file", str(dest)],
                   env=env, check=True, capture_output=True, text=True, timeout=60)
    return Path(dest)


def pg_restore_file(eng: Engine, dump: str | Path) -> None:
    """``pg_restore --clean`` a dump from :func:`pg_dump_table`: drop the objects, recreate, reload."""
    eng.dispose()
    args, env = _pg_command("pg_restore", eng)
    subprocess.run([*args, "--clean", "--if-exists", "--single-transaction", str(dump)],
                   env=env, check=True, capture_output=True, text=True, timeout=60)
