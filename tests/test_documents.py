"""helpers.documents: mongomock's MongoDB API, and the same documents in a JSON column.

The JSON column is checked on SQLite (the default) and, marked ``realserver``, on the
PostgreSQL (JSONB + GIN) and MariaDB (JSON_CONTAINS) servers when they answer.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from helpers import databases
from helpers.documents import JsonDocuments, describe_mongo, mongo

DOCS = [
    {"_id": 1, "name": "Kettle", "price": 2999, "specs": {"color": "red", "litres": 1.7},
     "tags": ["kitchen"], "gift": False},
    {"_id": 2, "name": "Lamp", "price": 1999, "specs": {"color": "black", "watts": 40}, "note": None},
    {"_id": 3, "name": "Mug", "price": 899, "specs": {"color": "red"}, "tags": ["kitchen", "gift"],
     "gift": True},
]

SERVERS = {
    "postgresql": os.environ.get("LAB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("LAB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def test_mongo_is_mongomock_and_says_so():
    shop = mongo()
    assert describe_mongo().startswith("mongomock (") and "not a MongoDB server" in describe_mongo()
    shop.products.insert_many([dict(d) for d in DOCS])
    red = shop.products.find({"specs.color": "red", "price": {"$lt": 2000}}, {"_id": 0, "name": 1})
    assert list(red) == [{"name": "Mug"}]
    assert mongo().products.count_documents({}) == 0, "each call is a fresh, empty database"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def store(request, monkeypatch):
    """A JsonDocuments table holding DOCS on each engine (servers skipped when unreachable)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = None
    if request.param != "sqlite":
        request.applymarker(pytest.mark.realserver)
        url = SERVERS[request.param]
        try:
            eng = databases.engine("documents-test", url=url)
        except ConnectionError as error:
            pytest.skip(f"{request.param} not reachable: {error}")
    else:
        eng = databases.engine("documents-test")
    docs = JsonDocuments(eng, "product_docs")
    docs.create()
    docs.insert_many(DOCS)
    yield docs
    databases.drop(eng)


@pytest.mark.parametrize(("fragment", "names"), [
    ({"specs": {"color": "red"}}, ["Kettle", "Mug"]),
    ({"specs": {"color": "red"}, "tags": ["gift"]}, ["Mug"]),
    ({"tags": ["kitchen", "gift"]}, ["Mug"]),
    ({"price": 1999}, ["Lamp"]),
    ({"specs": {"litres": 1.7}}, ["Kettle"]),
    ({"gift": True}, ["Mug"]),
    ({"gift": False}, ["Kettle"]),
    ({"note": None}, ["Lamp"]),
    ({"name": "Teapot"}, []),
])
def test_containment_means_the_same_on_every_engine(store, fragment, names):
    assert [doc["name"] for doc in store.find(fragment)] == names


def test_documents_come_back_whole_with_their_id(store):
    assert store.find({"name": "Mug"}) == [DOCS[2]]


def test_values_are_bound_not_pasted(store):
    hostile = "x' OR '1'='1"
    sql, params = store.query({"name": hostile, "tags": [hostile]})
    assert hostile not in sql
    assert any(hostile in str(value) for value in params.values()), "the value travels as a parameter"
    assert store.find({"name": hostile}) == []


def test_names_and_paths_are_checked_before_reaching_sql(store):
    with pytest.raises(ValueError, match="safe SQL name"):
        JsonDocuments(store.engine, "docs; DROP TABLE x")
    if store.kind == "sqlite":  # only SQLite builds paths from keys
        with pytest.raises(ValueError, match="safe SQL name"):
            store.query({"a') OR 1=1 --": 1})


def test_the_index_serves_the_query(store):
    """SQLite: an expression index on the path; PostgreSQL: the GIN index on the whole document."""
    if store.kind == "sqlite":
        assert store.index_for({"specs": {"color": "red"}}) is None, "no index yet: a scan"
        name = store.index_path("specs.color")
        assert store.index_for({"specs": {"color": "red"}}) == name
    elif store.kind == "postgresql":
        assert store.index_path("specs.color") is None, "GIN already covers every path"
        assert store.index_for({"specs": {"color": "red"}, "tags": ["gift"]}) == "ix_product_docs_doc"
        with store.engine.connect() as conn:
            column_type = conn.execute(sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'product_docs' "
                "AND column_name = 'doc'"
            )).scalar()
        assert column_type == "jsonb"
    else:
        assert store.index_path("specs.color") is None


def test_invalid_json_is_rejected_by_the_column(store):
    with pytest.raises(sa.exc.DBAPIError), store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO product_docs (id, doc) VALUES (9, :doc)"), {"doc": "{not json"})
