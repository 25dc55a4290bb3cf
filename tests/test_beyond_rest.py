"""helpers.beyond_rest: the library database, the query log, the quiet schema, the SSE parser."""

from __future__ import annotations

import strawberry

from helpers.beyond_rest import QueryLog, QuietSchema, make_library_db, parse_sse


def test_library_db_is_seeded_deterministically():
    conn = make_library_db()
    assert conn.execute("SELECT COUNT(*) FROM authors").fetchone() == (5,)
    assert conn.execute("SELECT title, author_id FROM books WHERE id = 5").fetchone() == ("Dune", 2)
    assert make_library_db(books_per_author=2).execute("SELECT COUNT(*) FROM books").fetchone() == (10,)


def test_query_log_counts_statements_inside_the_block_only():
    conn = make_library_db()
    with QueryLog(conn) as log:
        conn.execute("SELECT 1").fetchall()
        conn.execute("SELECT id FROM books WHERE id = ?", (3,)).fetchall()
    conn.execute("SELECT 2").fetchall()
    assert log.count == 2
    assert log.statements[1] == "SELECT id FROM books WHERE id = 3"


def test_quiet_schema_returns_errors_without_writing_to_stderr(capfd):
    @strawberry.type
    class Query:
        @strawberry.field
        def fail(self) -> int:
            raise ValueError("nope")

    result = QuietSchema(query=Query).execute_sync("{ fail }")
    assert result.errors[0].message == "nope"
    out, err = capfd.readouterr()
    assert err == ""


def test_parse_sse_framing():
    text = ": keep-alive\n\nid: 1\nevent: stock\ndata: a\ndata: b\n\nid: 2\ndata:c\n\ndata: no end"
    events = list(parse_sse(text.split("\n")))
    assert events == [{"id": "1", "event": "stock", "data": "a\nb"}, {"id": "2", "data": "c"}]
