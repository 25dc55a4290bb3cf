"""helpers/search.py: tokenizer, BM25, and full text on SQLite FTS5 and, when it answers,
PostgreSQL (LAB_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test)."""

from __future__ import annotations

import pytest

from helpers import databases, search
from tests.servers import POSTGRES, database_unreachable


def test_tokenize_lowercases_and_drops_stop_words():
    assert search.tokenize("The Queue, and THE queued-jobs!") == ["queue", "queued", "jobs"]
    assert search.tokenize("") == []


def test_bm25_prefers_rare_terms_and_shorter_documents():
    docs = {1: ["queue", "message"], 2: ["queue", "message", "message", "log", "log", "log"], 3: ["log"]}
    df = {"queue": 2, "message": 2, "log": 2}
    avg = sum(map(len, docs.values())) / len(docs)
    short, long = (search.bm25(["queue"], docs[i], df, 3, avg) for i in (1, 2))
    assert short > long > 0
    assert search.bm25(["absent"], docs[1], df, 3, avg) == 0


def test_fts5_query_quotes_every_word():
    assert search.fts5_query('dead-letter OR x*') == '"dead" "letter" "or" "x"'
    assert search.fts5_query("  ") == '""'


@pytest.fixture(params=[None, POSTGRES], ids=["sqlite", "postgresql"])
def db(request, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if request.param:
        if reason := database_unreachable(request.param):
            pytest.skip(reason)
        monkeypatch.setenv("DATABASE_URL", request.param)
    eng = search.engine("test-search")
    search.create_index(eng, search.CORPUS)
    yield eng
    databases.drop(eng)


def test_full_text_finds_stems_and_ranks_best_first(db):
    hits = search.search(db, "retry")
    assert {h[0] for h in hits} == {3, 4}, "'retry' finds 'retries' (stemming)"
    top = search.search(db, "search results")
    assert {h[0] for h in top} == {6, 7}
    assert all("[" in h[2] and "]" in h[2] for h in top), "snippets mark the matched words"
    scores = [h[3] for h in search.search(db, "message", limit=8)]
    better_first = sorted(scores) if databases.kind(db) == "sqlite" else sorted(scores, reverse=True)
    assert scores == better_first


def test_every_word_is_required_and_syntax_is_not_interpreted(db):
    assert search.search(db, "consumer acknowledges")[0][0] == 1
    assert search.search(db, "dead-letter OR nonsense*") == []
    assert search.search(db, "'; DROP TABLE docs; --") == []
    assert len(search.search(db, "message", limit=8)) >= 4, "the table is still there"


def test_a_mariadb_url_keeps_the_index_in_sqlite(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
    eng = search.engine("test-search-mariadb")
    try:
        assert databases.kind(eng) == "sqlite"
        assert "not covered here" in search.describe(eng)
    finally:
        databases.drop(eng)
