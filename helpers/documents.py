"""Documents for step 03: a MongoDB-style store with no server, and the same documents in SQL.

Two ways to keep nested, schema-flexible records::

    from helpers.documents import JsonDocuments, mongo
    shop = mongo()                          # a database of mongomock, MongoDB's API in memory
    shop.products.insert_many(docs)
    shop.products.find({"specs.color": "red", "price": {"$lt": 2000}})

    products = JsonDocuments(db, "product_docs")   # db: helpers.databases.engine()
    products.create()                              # id + a JSON column (+ an index)
    products.insert_many(docs)
    products.find({"specs": {"color": "red"}})     # documents containing that fragment

:func:`mongo` returns a database of **mongomock**, an in-process imitation of MongoDB's
Python driver (pymongo): same calls (``insert_many``, ``find`` with ``$lt``/``$in``/
``$all``..., ``create_index``, ``update_one`` with ``$set``/``$push``/``$inc``,
``aggregate`` pipelines), no server, no persistence. It is not MongoDB: it keeps
documents in a Python dict, enforces unique indexes but never uses an index to go
faster, and has no ``explain()``. Code written against it runs unchanged on pymongo.

:class:`JsonDocuments` stores the same documents in a relational table with a JSON
column, on whatever :func:`helpers.databases.engine` gave (SQLite by default,
PostgreSQL or MariaDB when ``DATABASE_URL`` is set), and answers **containment**
queries ("documents that contain this fragment", PostgreSQL's ``@>``) in the SQL each
engine understands:

============  ====================================  ==========================================
engine        column                                "specs.color is red and tags has 'gift'"
============  ====================================  ==========================================
PostgreSQL    ``JSONB`` + GIN index (jsonb_path_ops)  ``doc @> '{"specs": {"color": "red"}, ...}'``
MariaDB       ``JSON`` (text checked by JSON_VALID)  ``JSON_CONTAINS(doc, '{...}')``
SQLite        ``TEXT CHECK (json_valid(doc))``      ``json_extract(doc, '$.specs.color') = 'red'``
                                                    ``AND EXISTS (SELECT 1 FROM json_each(doc,``
                                                    ``'$.tags') WHERE value = 'gift')``
============  ====================================  ==========================================

Values always travel as bound parameters; the table name and the JSON paths built from
a fragment's keys are checked against a strict pattern before they reach SQL text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from helpers.databases import index_used, kind

__all__ = ["JsonDocuments", "describe_mongo", "mongo"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def mongo(name: str = "shop"):
    """A fresh, empty mongomock database called ``name`` (MongoDB's API, in memory)."""
    import mongomock  # imported here: only the document examples need it

    return mongomock.MongoClient()[name]


def describe_mongo() -> str:
    """One line saying what :func:`mongo` is, so the output never pretends."""
    return "mongomock (MongoDB's Python API in memory, not a MongoDB server; the same code runs on pymongo)"


def _identifier(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} must be letters, digits and _ (a safe SQL name)")
    return name


class JsonDocuments:
    """A table ``(id, doc)`` whose ``doc`` is a JSON document, queried by containment."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = _identifier(table, "table name")
        self.kind = kind(engine)

    # -- schema --------------------------------------------------------------------
    def create(self) -> None:
        """Create the table, and on PostgreSQL a GIN index that serves every ``@>`` query."""
        column = {"postgresql": "JSONB NOT NULL", "mariadb": "JSON NOT NULL", "mysql": "JSON NOT NULL"}.get(
            self.kind, "TEXT NOT NULL CHECK (json_valid(doc))")
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, doc {column})"))
            if self.kind == "postgresql":
                # jsonb_path_ops: smaller and faster than the default GIN opclass, for @> only.
                conn.execute(sa.text(
                    f"CREATE INDEX ix_{self.table}_doc ON {self.table} USING GIN (doc jsonb_path_ops)"))

    def index_path(self, path: str) -> str | None:
        """On SQLite, an expression index on one path (``"specs.color"``); its name, else None.

        PostgreSQL's GIN index already covers every path; MariaDB would need a generated
        column, which this helper does not make.
        """
        if self.kind != "sqlite":
            return None
        name = f"ix_{self.table}_{'_'.join(self._path(path))}"
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {self.table} "
                                 f"(json_extract(doc, '{self._json_path(path)}'))"))
        return name

    # -- writes --------------------------------------------------------------------
    def insert_many(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Store documents; each needs an integer ``_id`` (kept as the row's id, not in ``doc``)."""
        rows = []
        for document in documents:
            body = {k: v for k, v in document.items() if k != "_id"}
            rows.append({"id": int(document["_id"]), "doc": json.dumps(body)})
        if not rows:
            return 0
        value = "CAST(:doc AS JSONB)" if self.kind == "postgresql" else ":doc"
        with self.engine.begin() as conn:
            # The table name was checked by _identifier; the values are bound.
            conn.execute(sa.text(f"INSERT INTO {self.table} (id, doc) VALUES (:id, {value})"), rows)  # noqa: S608
        return len(rows)

    # -- reads ---------------------------------------------------------------------
    def query(self, fragment: Mapping[str, Any], ids_only: bool = False) -> tuple[str, dict[str, Any]]:
        """The SQL (and its bound parameters) selecting the rows whose ``doc`` contains ``fragment``.

        ``fragment`` is nested dicts whose leaves are scalars (the value at that path must
        equal it) or lists of scalars (the array at that path must hold each of them).
        """
        if self.kind == "postgresql":
            condition, params = "doc @> CAST(:fragment AS JSONB)", {"fragment": json.dumps(fragment)}
        elif self.kind in ("mariadb", "mysql"):
            condition, params = "JSON_CONTAINS(doc, :fragment)", {"fragment": json.dumps(fragment)}
        else:
            parts: list[str] = []
            params = {}
            self._sqlite_conditions(fragment, [], parts, params)
            condition = " AND ".join(parts) or "1 = 1"
        columns = "id" if ids_only else "id, doc"
        # Names and paths were checked by _identifier; every value is a bound parameter.
        return f"SELECT {columns} FROM {self.table} WHERE {condition} ORDER BY id", params  # noqa: S608

    def find(self, fragment: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The documents containing ``fragment``, by id, each with its ``_id`` put back."""
        sql, params = self.query(fragment)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(sql), params).all()
        # psycopg decodes JSONB to a dict; SQLite and MariaDB hand back the text.
        return [{"_id": row_id, **(doc if isinstance(doc, dict) else json.loads(doc))}
                for row_id, doc in rows]

    def index_for(self, fragment: Mapping[str, Any]) -> str | None:
        """The index the engine's plan uses for :meth:`find` of ``fragment`` (None: a full scan)."""
        sql, params = self.query(fragment, ids_only=True)
        with self.engine.connect() as conn:
            return index_used(conn, sql.replace(" ORDER BY id", ""), params)

    # -- SQLite's translation -----------------------------------------------------
    @staticmethod
    def _path(path: str | list[str]) -> list[str]:
        keys = path.split(".") if isinstance(path, str) else list(path)
        return [_identifier(key, "document key") for key in keys]

    def _json_path(self, path: str | list[str]) -> str:
        return "$." + ".".join(self._path(path))

    def _sqlite_conditions(self, fragment: Mapping[str, Any], path: list[str],
                           parts: list[str], params: dict[str, Any]) -> None:
        for key, value in fragment.items():
            here = [*path, key]
            json_path = self._json_path(here)
            if isinstance(value, Mapping):
                self._sqlite_conditions(value, here, parts, params)
            elif isinstance(value, list):
                for element in value:
                    if isinstance(element, (Mapping, list)):
                        raise ValueError("on SQLite, lists in a fragment hold scalars only")
                    name = f"p{len(params)}"
                    params[name] = element
                    # A checked path; the value is bound.
                    exists = f"EXISTS (SELECT 1 FROM json_each(doc, '{json_path}') WHERE value = :{name})"  # noqa: S608
                    parts.append(exists)
            elif value is None:  # JSON null (json_extract gives SQL NULL, which equals nothing)
                parts.append(f"json_type(doc, '{json_path}') = 'null'")
            else:
                name = f"p{len(params)}"
                params[name] = value
                parts.append(f"json_extract(doc, '{json_path}') = :{name}")
