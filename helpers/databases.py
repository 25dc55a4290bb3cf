"""A database for the notebooks: SQLite by default, PostgreSQL or MariaDB when asked.

Every notebook and exercise of step 03 gets its database here::

    from helpers.databases import engine, describe
    db = engine()               # an SQLAlchemy Engine on a fresh, empty database
    print(describe(db))         # "SQLite (a file in a temporary directory)"

Without ``DATABASE_URL`` the database is an SQLite file in a new temporary directory:
nothing to install. With ``DATABASE_URL`` set (``postgresql+psycopg://user@host/db`` or
``mysql+pymysql://user@host/db``; plain ``postgresql://``, ``mysql://`` and
``mariadb://`` are accepted too) the same code runs on that server, in a schema
(PostgreSQL) or database (MariaDB/MySQL) of its own, named ``lab_<random>``, so runs
never collide and never touch your tables. Everything :func:`engine` creates is
removed by :func:`drop` / :func:`drop_all`, and at interpreter exit.

The module also has the tools the notebook uses to look inside the database:
:func:`count_queries` (an SQLAlchemy event listener that counts statements, for the
N+1 problem), :func:`force_read_race` (concurrent requests all read before any
writes, so a lost update shows every time), :func:`explain` and :func:`index_used`
(query plans on each engine) and :func:`analyze` (refresh the planner's statistics).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

__all__ = [
    "SQLITE_BEGIN",
    "QueryCounter",
    "analyze",
    "count_queries",
    "force_read_race",
    "describe",
    "drop",
    "drop_all",
    "drop_leftovers",
    "engine",
    "explain",
    "index_used",
    "isolated_url",
    "kind",
    "server_url",
    "show",
]

#: Environment variable naming the server to use instead of SQLite.
ENV_VAR = "DATABASE_URL"
#: Optional extra prefix for the isolated names (the test suite sets one per run so it
#: can remove whatever a killed kernel left behind).
PREFIX_VAR = "LAB_RUN_ID"

_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


@dataclass
class _Isolated:
    """What :func:`engine` created, so that :func:`drop` can remove it."""

    label: str
    kind: str
    name: str  # schema (PostgreSQL), database (MariaDB) or temporary directory (SQLite)
    admin_url: URL | None = None


_registry: dict[str, Engine] = {}
_plans = itertools.count()
_created: dict[int, _Isolated] = {}
_lock = threading.Lock()


def server_url(url: str | None = None) -> URL | None:
    """The server URL from ``url`` or ``DATABASE_URL`` with a driver filled in (None: SQLite).

    ``postgresql://`` becomes ``postgresql+psycopg://`` and ``mysql://`` or ``mariadb://``
    become ``mysql+pymysql://``, the drivers this project installs.
    """
    raw = url if url is not None else os.environ.get(ENV_VAR, "")
    if not raw.strip():
        return None
    try:
        parsed = make_url(raw.strip())
    except sa.exc.ArgumentError as error:
        raise ValueError(
            f"{ENV_VAR}={raw!r} is not a database URL. Use e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test or "
            "mysql+pymysql://root@127.0.0.1:3306/test, or unset it to use SQLite."
        ) from error
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return None
    if backend not in _DRIVERS:
        raise ValueError(
            f"{ENV_VAR} names a {backend!r} database; this course supports PostgreSQL "
            "(postgresql+psycopg://...) and MariaDB/MySQL (mysql+pymysql://...). "
            "Unset it to use SQLite."
        )
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=_DRIVERS[backend])
    if backend == "mariadb":  # SQLAlchemy's mariadb dialect is the mysql one, stricter
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed


def _isolated_name() -> str:
    extra = re.sub(r"[^a-z0-9]", "", os.environ.get(PREFIX_VAR, "").lower())[:20]
    return f"lab_{extra + '_' if extra else ''}{secrets.token_hex(4)}"


#: Execution option for SQLite: ``conn.execution_options(sqlite_begin="IMMEDIATE")`` makes
#: the next transaction take the write lock at BEGIN (SQLite's stand-in for SELECT ... FOR UPDATE).
SQLITE_BEGIN = "sqlite_begin"


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """Per connection: enforce foreign keys, use WAL, and let SQLAlchemy own transactions."""
    # Python's sqlite3 module (in its legacy mode) sends BEGIN only before INSERT/UPDATE/
    # DELETE, so a SELECT would run outside any transaction and the isolation examples
    # would show nothing. Autocommit at the driver level, plus the BEGIN sent by
    # _sqlite_begin below, gives real transactions (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")  # SQLite ignores FOREIGN KEY clauses otherwise
    # WAL: readers see a snapshot and never block the writer (nor it them).
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 15000")  # wait up to 15 s for another writer's lock
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Start each transaction with BEGIN (or BEGIN IMMEDIATE when asked, see SQLITE_BEGIN)."""
    mode = str(conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")).upper()
    if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        raise ValueError(f"{SQLITE_BEGIN} must be DEFERRED, IMMEDIATE or EXCLUSIVE, got {mode!r}")
    # On the driver connection, so count_queries (a cursor event) counts only real statements.
    statement = f"BEGIN {mode}"
    driver = conn.connection.driver_connection
    try:
        # Read the schema table first (outside the transaction, so no snapshot is taken
        # yet): SQLite reloads its cached schema only when a statement reads the file,
        # and PRAGMA index_list or EXPLAIN QUERY PLAN do not, so without this a
        # connection would not see an index another one just added.
        driver.execute("SELECT count(*) FROM sqlite_master").fetchall()
        driver.execute(statement)
    except Exception as error:  # sqlite3.OperationalError: wrap it as SQLAlchemy would
        raise sa.exc.OperationalError(statement, None, error) from error


def engine(label: str = "default", url: str | None = None, echo: bool = False) -> Engine:
    """An Engine on a fresh, empty, isolated database (see the module docstring).

    ``label`` names it in this process: asking again for the same label drops the
    previous database first, so re-running a notebook cell never piles them up.
    ``url`` overrides ``DATABASE_URL``.
    """
    with _lock:
        old = _registry.pop(label, None)
    if old is not None:
        drop(old)
    target = server_url(url)
    if target is None:
        folder = tempfile.mkdtemp(prefix="lab-db-")
        eng = sa.create_engine(f"sqlite:///{Path(folder) / 'lab.db'}", echo=echo)
        sa.event.listen(eng, "connect", _sqlite_connect)
        sa.event.listen(eng, "begin", _sqlite_begin)
        info = _Isolated(label, "sqlite", folder)
    else:
        backend = target.get_backend_name()
        name = _isolated_name()
        admin = sa.create_engine(target, poolclass=sa.pool.NullPool,
                                 connect_args={"connect_timeout": 5})
        try:
            with admin.begin() as conn:
                if backend in ("postgresql", "postgres"):
                    conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
                else:
                    conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        except sa.exc.OperationalError as error:
            raise ConnectionError(
                f"Cannot reach the database at {target.render_as_string(hide_password=True)} "
                f"({error.orig}). Start the server, fix {ENV_VAR}, or unset it to use SQLite."
            ) from None
        finally:
            admin.dispose()
        if backend in ("postgresql", "postgres"):
            eng = sa.create_engine(
                target, echo=echo,
                connect_args={"options": f"-c search_path={name}", "connect_timeout": 5},
            )
            info = _Isolated(label, "postgresql", name, target)
        else:
            eng = sa.create_engine(target.set(database=name), echo=echo,
                                   connect_args={"connect_timeout": 5, "charset": "utf8mb4"})
            info = _Isolated(label, "mysql", name, target)
    with _lock:
        _registry[label] = eng
        _created[id(eng)] = info
    return eng


def never_sync(eng: Engine) -> None:
    """On SQLite, never sync ``eng``'s file to disk (``PRAGMA synchronous = OFF``), for a
    throwaway database that nothing reads back after a crash (the capstones' servers: the file
    lives in the temporary folder :func:`drop` deletes). Creating the file, its tables, every
    commit and the last checkpoint each waited for the disk, which on a busy machine was most
    of a capstone server's start and stop. Set before :func:`engine`'s own settings, so the
    switch to WAL does not sync either; connections already open are closed so that every one
    gets it. Other databases are left alone. Not for data anyone keeps: after a power cut the
    file may be corrupt."""
    if eng.dialect.name != "sqlite":
        return
    sa.event.listen(eng, "connect", _unsynced, insert=True)
    eng.dispose()


def _unsynced(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous = OFF")


def isolated_url(eng: Engine) -> str:
    """A URL (password included) that reaches ``eng``'s isolated database from an engine of
    one's own, e.g. an app that builds its engine from ``DATABASE_URL``: PostgreSQL's
    schema goes into ``options`` (the search_path), MariaDB's database and SQLite's file are
    in the URL already."""
    info = _created.get(id(eng))
    url = eng.url
    if info is not None and info.kind == "postgresql":
        url = url.update_query_dict({"options": f"-csearch_path={info.name}"})
    return url.render_as_string(hide_password=False)


def kind(eng: Engine | Connection) -> str:
    """``'sqlite'``, ``'postgresql'``, ``'mariadb'`` or ``'mysql'``: which engine this is."""
    dialect = eng.dialect
    if dialect.name == "mysql":
        if getattr(dialect, "server_version_info", None) is None and isinstance(eng, Engine):
            with eng.connect():
                pass  # the dialect learns the server's flavour on first connect
        return "mariadb" if getattr(eng.dialect, "is_mariadb", False) else "mysql"
    return dialect.name


def describe(eng: Engine) -> str:
    """One line naming the engine and where the data lives, for the notebook to print."""
    info = _created.get(id(eng))
    flavour = kind(eng)
    if flavour == "sqlite":
        where = "a file in a temporary directory" if info else eng.url.database
        return f"SQLite (embedded, {where}; set {ENV_VAR} to use PostgreSQL or MariaDB)"
    with eng.connect() as conn:
        version = conn.execute(sa.text("SELECT version()")).scalar()
    version = str(version)
    if flavour == "postgresql":
        number = version.split()[1] if version.startswith("PostgreSQL") else version
        place = f"schema {info.name}" if info else "its default schema"
        return f"PostgreSQL {number} (server at {eng.url.host}:{eng.url.port or 5432}, {place})"
    number = version.split("-")[0]
    place = f"database {info.name}" if info else f"database {eng.url.database}"
    label = "MariaDB" if flavour == "mariadb" else "MySQL"
    return f"{label} {number} (server at {eng.url.host}:{eng.url.port or 3306}, {place})"


def drop(eng: Engine) -> None:
    """Dispose of ``eng`` and remove the database, schema or temporary directory it made."""
    eng.dispose()
    with _lock:
        info = _created.pop(id(eng), None)
        for label, registered in list(_registry.items()):
            if registered is eng:
                del _registry[label]
    if info is None:
        return
    if info.kind == "sqlite":
        shutil.rmtree(info.name, ignore_errors=True)
        return
    _drop_names(info.admin_url, [info.name])


def _drop_names(admin_url: URL, names: list[str]) -> None:
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            for name in names:
                if admin_url.get_backend_name() == "postgresql":
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
                else:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        admin.dispose()


def drop_all() -> None:
    """Remove everything :func:`engine` created in this process (also runs at exit)."""
    with _lock:
        engines = list(_registry.values())
    for eng in engines:
        with contextlib.suppress(Exception):  # at exit, a server may already be gone
            drop(eng)


atexit.register(drop_all)


def drop_leftovers(url: str | None = None, prefix: str = "lab_") -> list[str]:
    """Drop isolated schemas/databases whose name starts with ``prefix``; return their names.

    For cleaning up after a kernel that was killed before it could remove its own (the
    test suite passes its per-run prefix). Does nothing on SQLite.
    """
    target = server_url(url)
    if target is None:
        return []
    if not re.fullmatch(r"lab_[a-z0-9_]*", prefix):
        raise ValueError(f"prefix must look like 'lab_...', got {prefix!r}")
    admin = sa.create_engine(target, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            if target.get_backend_name() == "postgresql":
                rows = conn.execute(sa.text("SELECT schema_name FROM information_schema.schemata"))
            else:
                rows = conn.execute(sa.text("SHOW DATABASES"))
            names = sorted(r[0] for r in rows if r[0].startswith(prefix))
    finally:
        admin.dispose()
    if names:
        _drop_names(target, names)
    return names


# --------------------------------------------------------------------------- queries


@dataclass
class QueryCounter:
    """Statements seen by :func:`count_queries`: ``count``, their SQL text and bound parameters."""

    statements: list[str] = field(default_factory=list)
    #: The parameters sent with each statement, in the same order (values travel apart from the SQL).
    parameters: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_queries(eng: Engine) -> Iterator[QueryCounter]:
    """Count the SQL statements ``eng`` sends while the block runs::

        with count_queries(db) as queries:
            ...
        queries.count
    """
    counter = QueryCounter()

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        counter.statements.append(statement)
        counter.parameters.append(parameters)

    sa.event.listen(eng, "before_cursor_execute", before_cursor_execute)
    try:
        yield counter
    finally:
        sa.event.remove(eng, "before_cursor_execute", before_cursor_execute)


@contextlib.contextmanager
def force_read_race(eng: Engine, parties: int, table: str, patience: float = 3.0) -> Iterator[None]:
    """Make concurrent requests all read ``table`` before any of them goes on.

    While the block runs, each thread's first ``SELECT`` mentioning ``table`` on ``eng``
    is held, after it ran, until ``parties`` threads have read, or until no new reader
    arrived for ``patience`` seconds (then the gate stays open). Read-then-write code
    that loses updates then loses them on every run and every engine, instead of only
    when the threads happen to collide; code that locks (``SELECT ... FOR UPDATE``,
    ``BEGIN IMMEDIATE``) or never reads (an atomic ``UPDATE``) is only delayed once by
    ``patience``. The tests of step 03 use it with real threads.
    """
    if parties < 1 or patience <= 0:
        raise ValueError(f"parties must be >= 1 and patience > 0, got {parties} and {patience}")
    gate = threading.Condition()
    seen: set[int] = set()
    state = {"open": False, "last": 0.0}
    needle = table.lower()

    def after_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        words = statement.lstrip().lower()
        if not words.startswith("select") or needle not in words:
            return
        with gate:
            me = threading.get_ident()
            if state["open"] or me in seen:
                return
            seen.add(me)
            state["last"] = time.monotonic()
            gate.notify_all()
            while not state["open"] and len(seen) < parties:
                remaining = state["last"] + patience - time.monotonic()
                if remaining <= 0:
                    break
                gate.wait(remaining)
            state["open"] = True  # everyone has read (or nobody else is coming): let all go
            gate.notify_all()

    sa.event.listen(eng, "after_cursor_execute", after_cursor_execute)
    try:
        yield
    finally:
        sa.event.remove(eng, "after_cursor_execute", after_cursor_execute)
        with gate:
            state["open"] = True
            gate.notify_all()


def explain(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[str]:
    """The engine's query plan for ``sql`` as lines of text.

    SQLite: ``EXPLAIN QUERY PLAN`` (e.g. ``SCAN orders`` or ``SEARCH orders USING INDEX
    ...``); PostgreSQL: ``EXPLAIN``; MariaDB/MySQL: ``EXPLAIN``, one line per table
    with its access type and the index it uses (``key``).
    """
    flavour = kind(conn)
    if flavour == "sqlite":
        # EXPLAIN QUERY PLAN never reads the database, so a connection that has not read
        # since another one added an index still plans with the old schema, and the
        # driver caches prepared statements by their text. Read once (reloading the
        # schema), and make the statement's text new each time.
        conn.execute(sa.text("SELECT count(*) FROM sqlite_master")).scalar()
        clause = sa.text(f"EXPLAIN QUERY PLAN {sql} /* plan {next(_plans)} */")
    else:
        clause = sa.text(f"EXPLAIN {sql}")
    rows = conn.execute(clause, dict(params or {})).mappings().all()
    if flavour == "sqlite":
        return [row["detail"] for row in rows]
    if flavour == "postgresql":
        return [row["QUERY PLAN"] for row in rows]
    return [
        f"table={row['table']} type={row['type']} key={row['key']} rows={row['rows']}"
        for row in rows
    ]


def index_used(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The name of an index the plan of ``sql`` searches by its condition, or None (a scan).

    On PostgreSQL sequential scans are discouraged for this one plan
    (``SET LOCAL enable_seqscan = off``), so a tiny table still shows whether a usable
    index exists rather than the planner's preference for reading a few pages.
    """
    flavour = kind(conn)
    params = dict(params or {})
    if flavour == "sqlite":
        for line in explain(conn, sql, params):
            found = re.search(r"USING (?:COVERING )?INDEX (\S+)", line)
            if found:
                return found.group(1)
        return None
    if flavour == "postgresql":
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            raw = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}"), params).scalar()
        plan = raw if isinstance(raw, list) else json.loads(raw)
        stack = [plan[0]["Plan"]]
        while stack:
            node = stack.pop()
            if "Index Name" in node and "Index Cond" in node:
                return node["Index Name"]
            stack.extend(node.get("Plans", []))
        return None
    rows = conn.execute(sa.text(f"EXPLAIN {sql}"), params).mappings().all()
    for row in rows:
        if row["key"] and row["type"] in ("const", "eq_ref", "ref", "range", "ref_or_null"):
            return row["key"]
    return None


def analyze(conn: Connection, *tables: str) -> None:
    """Refresh the planner's statistics for ``tables`` (after loading data or adding an index)."""
    flavour = kind(conn)
    for table in tables:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise ValueError(f"not a plain table name: {table!r}")
        if flavour == "sqlite":
            conn.execute(sa.text(f"ANALYZE {table}"))
        elif flavour == "postgresql":
            conn.execute(sa.text(f"ANALYZE {table}"))
        else:
            conn.execute(sa.text(f"ANALYZE TABLE {table}")).all()


def _cell(value: Any) -> str:
    if isinstance(value, float) or type(value).__name__ == "Decimal":
        return str(int(value)) if value == int(value) else f"{float(value):.2f}"
    return str(value)


def show(result: sa.CursorResult | sa.Result, limit: int = 10) -> None:
    """Print a query result as a small text table (at most ``limit`` rows).

    Numbers print the same on every engine (``12`` rather than ``Decimal('12')``).
    """
    headers = list(result.keys())
    rows = [[_cell(v) for v in row] for row in result.fetchmany(limit + 1)]
    more = len(rows) > limit
    rows = rows[:limit]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if more:
        print("...")
