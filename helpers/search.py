"""Search for step 11a: a tiny corpus, a tokenizer, BM25, and full-text search in SQL.

::

    from helpers import search
    docs = search.CORPUS                   # a few short documents: id, title, body
    search.tokenize("The Queues, queued!")  # ['queues', 'queued']
    db = search.engine()                   # SQLite, or PostgreSQL when DATABASE_URL names one
    search.create_index(db, docs)          # FTS5 table, or a tsvector column with a GIN index
    search.search(db, "message queue")     # [(id, title, snippet, score), ...] best first

The notebook builds an inverted index by hand from :func:`tokenize`; :func:`bm25` is the
ranking formula SQLite's FTS5 uses, written out. Full text in the database:

- **SQLite FTS5** (default): a virtual table with the ``porter`` tokenizer (English
  stemming); ``MATCH`` finds rows, ``bm25()`` ranks them (lower is better: it is
  negated), ``snippet()`` shows the words in context.
- **PostgreSQL** (``DATABASE_URL=postgresql+psycopg://...``): a generated ``tsvector``
  column (``to_tsvector('english', ...)``, weights A for the title and B for the body)
  with a GIN index; ``websearch_to_tsquery`` parses the query, ``@@`` matches,
  ``ts_rank_cd`` ranks (higher is better), ``ts_headline`` shows the words in context.

Full-text search here needs one of those two: with a MariaDB ``DATABASE_URL`` the index
goes to SQLite, and :func:`describe` says so.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from helpers import databases

__all__ = ["CORPUS", "STOPWORDS", "Doc", "bm25", "create_index", "describe", "engine", "search",
           "search_sql", "tokenize"]


@dataclass(frozen=True)
class Doc:
    """One searchable document."""

    id: int
    title: str
    body: str


CORPUS = [
    Doc(1, "Queues and acknowledgements",
        "A message queue hands each message to one consumer. The consumer acknowledges the message "
        "after processing it; an unacknowledged message is delivered again."),
    Doc(2, "Logs and consumer groups",
        "A log keeps every message in order. Each consumer group remembers its offset in the log, "
        "so a new group can replay old messages."),
    Doc(3, "Dead letter queues",
        "A message that keeps failing is moved to a dead letter queue after a few retries, "
        "so one bad message cannot block the queue."),
    Doc(4, "Background jobs",
        "A web request puts a slow task such as sending e-mail on a job queue; a worker runs the job "
        "later and retries it when it fails."),
    Doc(5, "Inverted indexes",
        "An inverted index maps each word to the documents that contain it, the way the index at the "
        "back of a book maps words to pages."),
    Doc(6, "Ranking search results",
        "Search engines rank documents by relevance: a word that is rare in the collection but "
        "frequent in a document makes that document a better match."),
    Doc(7, "Caching search results",
        "A cache keeps the results of popular searches for a short time, so the search engine "
        "does less work."),
    Doc(8, "Idempotent consumers",
        "An idempotent consumer records the id of each message it processed, so a message delivered "
        "twice changes the data once."),
]

#: Words too common to help a search (a tiny list; real analysers use longer ones per language).
STOPWORDS = frozenset(
    "a an and are as at be but by can each for from has in is it its of on one or so such that the "
    "their them then there these this to was when which with".split()
)

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case words of ``text`` without stop words, in order (what an analyser does)."""
    return [word for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


def bm25(query_terms: Sequence[str], doc_terms: Sequence[str], doc_freq: dict[str, int], n_docs: int,
         avg_len: float, k1: float = 1.2, b: float = 0.75) -> float:
    """Okapi BM25 of one document for ``query_terms`` (higher is better).

    For each query term: its inverse document frequency (rare terms weigh more) times
    its frequency in the document, saturated by ``k1`` and normalised by the document's
    length relative to ``avg_len`` (``b``). ``k1`` and ``b`` are the defaults of SQLite's
    FTS5 and of Lucene; the idf is Lucene's (never negative).
    """
    counts = Counter(doc_terms)
    score = 0.0
    for term in query_terms:
        df = doc_freq.get(term, 0)
        if not df or not counts[term]:
            continue
        idf = math.log((n_docs - df + 0.5) / (df + 0.5) + 1)
        tf = counts[term]
        score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc_terms) / avg_len))
    return score


# --- Full text in the database --------------------------------------------------------------

def engine(label: str = "11a-search") -> Engine:
    """A fresh database for the index: PostgreSQL if ``DATABASE_URL`` names one, else SQLite."""
    target = databases.server_url()
    if target is not None and target.get_backend_name() != "postgresql":
        return databases.engine(label, url="")  # MariaDB/MySQL: the index lives in SQLite
    return databases.engine(label)


def describe(db: Engine) -> str:
    """One line naming the full-text engine."""
    if databases.kind(db) == "postgresql":
        return "PostgreSQL full-text search (tsvector, GIN index, ts_rank_cd): " + databases.describe(db)
    note = ""
    target = databases.server_url()
    if target is not None and target.get_backend_name() != "postgresql":
        note = f" ({databases.ENV_VAR} names {target.get_backend_name()}: its full text is not covered here)"
    return "SQLite FTS5 (bm25, porter stemming; embedded)" + note


_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = 'porter unicode61')",
]
_POSTGRES_DDL = [
    "CREATE TABLE docs (id integer PRIMARY KEY, title text NOT NULL, body text NOT NULL, "
    "document tsvector GENERATED ALWAYS AS "
    "(setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) STORED)",
    "CREATE INDEX docs_document ON docs USING gin (document)",
]

_SQLITE_SEARCH = """\
SELECT rowid AS id, title,
       snippet(docs, 1, '[', ']', '…', 8) AS snippet,
       round(bm25(docs, 2.0, 1.0), 3) AS score
FROM docs
WHERE docs MATCH :query
ORDER BY bm25(docs, 2.0, 1.0)
LIMIT :limit"""

_POSTGRES_SEARCH = """\
SELECT id, title,
       ts_headline('english', body, query, 'StartSel=[, StopSel=], MaxWords=8, MinWords=3') AS snippet,
       round(ts_rank_cd(document, query)::numeric, 3) AS score
FROM docs, websearch_to_tsquery('english', :query) AS query
WHERE document @@ query
ORDER BY ts_rank_cd(document, query) DESC, id
LIMIT :limit"""


def search_sql(db: Engine) -> str:
    """The search statement :func:`search` runs on ``db`` (``:query`` and ``:limit`` are bound)."""
    return _POSTGRES_SEARCH if databases.kind(db) == "postgresql" else _SQLITE_SEARCH


def create_index(db: Engine, docs: Iterable[Doc]) -> int:
    """Create the full-text table on ``db`` and load ``docs``; return how many."""
    rows = [{"id": d.id, "title": d.title, "body": d.body} for d in docs]
    postgres = databases.kind(db) == "postgresql"
    with db.begin() as conn:
        for statement in _POSTGRES_DDL if postgres else _SQLITE_DDL:
            conn.execute(sa.text(statement))
        insert = ("INSERT INTO docs (id, title, body) VALUES (:id, :title, :body)" if postgres
                  else "INSERT INTO docs (rowid, title, body) VALUES (:id, :title, :body)")
        conn.execute(sa.text(insert), rows)
    return len(rows)


def fts5_query(text: str) -> str:
    """A user's words as an FTS5 query: each word quoted (so ``-``, ``*`` or ``OR`` typed by a
    user are words, not syntax), all required. PostgreSQL's ``websearch_to_tsquery`` does the
    same job for its syntax."""
    words = re.findall(r"\w+", text.lower())
    return " ".join('"' + w + '"' for w in words) or '""'


def search(db: Engine, query: str, limit: int = 5) -> list[tuple[int, str, str, float]]:
    """The documents matching every word of ``query``, best first: (id, title, snippet, score).

    The score is FTS5's bm25 (negative: lower is better) on SQLite and ``ts_rank_cd``
    (higher is better) on PostgreSQL; the order is best first on both.
    """
    postgres = databases.kind(db) == "postgresql"
    bound = {"query": query if postgres else fts5_query(query), "limit": limit}
    with db.connect() as conn:
        rows = conn.execute(sa.text(search_sql(db)), bound).all()
    return [(int(r.id), r.title, r.snippet, float(r.score)) for r in rows]
