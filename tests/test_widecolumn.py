"""helpers.widecolumn: partitions, clustering order, CQL's query rules, and what reads cost."""

from __future__ import annotations

import pytest

from helpers.widecolumn import InvalidQuery, WideTable


@pytest.fixture
def readings():
    table = WideTable("readings", partition_key=["sensor_id", "day"], clustering=[("ts", "desc")], nodes=3)
    for sensor in range(1, 11):
        for day in ("d1", "d2"):
            for ts in range(24):
                table.insert({"sensor_id": sensor, "day": day, "ts": ts, "celsius": 10 + (sensor * ts) % 25})
    return table


def test_describe_is_the_cql_primary_key(readings):
    assert readings.describe() == (
        "readings: PRIMARY KEY ((sensor_id, day), ts) WITH CLUSTERING ORDER BY (ts DESC)")
    assert readings.primary_key == ("sensor_id", "day", "ts")
    assert readings.partition_count() == 20 and readings.row_count() == 480


def test_a_partition_lookup_reads_one_partition_in_clustering_order(readings):
    got = readings.select({"sensor_id": 3, "day": "d2"}, limit=4)
    assert [row["ts"] for row in got.rows] == [23, 22, 21, 20]
    assert (got.partitions_read, got.rows_read, got.nodes_contacted, got.filtered) == (1, 4, 1, False)


@pytest.mark.parametrize(("condition", "expected"), [
    (5, [5]),
    ((">=", 21), [23, 22, 21]),
    ((">", 21), [23, 22]),
    (("<", 2), [1, 0]),
    (("<=", 2), [2, 1, 0]),
    ((">", 99), []),
])
def test_clustering_slices_read_only_their_rows(readings, condition, expected):
    got = readings.select({"sensor_id": 3, "day": "d1", "ts": condition})
    assert [row["ts"] for row in got.rows] == expected
    assert got.rows_read == len(expected) and got.partitions_read == 1


def test_without_the_partition_key_the_query_is_refused_then_scans_everything(readings):
    with pytest.raises(InvalidQuery, match="partition key .* not fully given"):
        readings.select({"celsius": (">=", 34)})
    with pytest.raises(InvalidQuery, match="not fully given"):
        readings.select({"sensor_id": 3})  # half a composite partition key is no key
    got = readings.select({"celsius": (">=", 34)}, allow_filtering=True)
    assert got.filtered and got.partitions_read == 20 and got.rows_read == 480 and got.nodes_contacted == 3
    assert got.rows and all(row["celsius"] >= 34 for row in got.rows)


@pytest.mark.parametrize(("where", "reason"), [
    ({"sensor_id": 3, "day": "d1", "celsius": 20}, "not key columns"),
    ({"sensor_id": ("<", 3), "day": "d1"}, "need equality"),
])
def test_other_non_key_shapes_are_refused(readings, where, reason):
    with pytest.raises(InvalidQuery, match=reason):
        readings.select(where)


def test_a_later_clustering_column_needs_the_earlier_ones():
    messages = WideTable("messages", ["room"], [("sent_at", "desc"), ("message_id", "asc")])
    for message_id, sent_at in enumerate([1, 1, 2, 3, 3], start=1):
        messages.insert({"room": "a", "sent_at": sent_at, "message_id": message_id})
    assert [(r["sent_at"], r["message_id"]) for r in messages.select({"room": "a"}).rows] == [
        (3, 4), (3, 5), (2, 3), (1, 1), (1, 2)]
    later = messages.select({"room": "a", "sent_at": 1, "message_id": (">", 1)})
    assert [r["message_id"] for r in later.rows] == [2]
    with pytest.raises(InvalidQuery, match="earlier one is not"):
        messages.select({"room": "a", "message_id": 2})


def test_insert_is_an_upsert_on_the_primary_key():
    table = WideTable("t", ["k"], ["c"])
    table.insert({"k": 1, "c": 1, "v": "old"})
    table.insert({"k": 1, "c": 1, "v": "new"})
    assert table.select({"k": 1}).rows == [{"k": 1, "c": 1, "v": "new"}]
    with pytest.raises(InvalidQuery, match="missing"):
        table.insert({"k": 1, "v": "no clustering value"})


def test_missing_partition_and_limits(readings):
    assert readings.select({"sensor_id": 99, "day": "d1"}).rows == []
    assert readings.select({"sensor_id": 1, "day": "d1"}, limit=0).rows == []
    with pytest.raises(ValueError, match="non-negative"):
        readings.select({"sensor_id": 1, "day": "d1"}, limit=-1)


def test_bad_definitions_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        WideTable("t", [])
    with pytest.raises(ValueError, match="appears twice"):
        WideTable("t", ["a"], ["a"])
    with pytest.raises(ValueError, match="'asc' or 'desc'"):
        WideTable("t", ["a"], [("b", "down")])


def test_partitions_spread_over_nodes_stably(readings):
    nodes = {readings.node_of(key) for key in readings.partition_sizes()}
    assert nodes == {0, 1, 2}
    assert readings.node_of((1, "d1")) == WideTable("x", ["a"], nodes=3).node_of((1, "d1"))


def test_descending_text_and_insert_many_agree_with_insert():
    one, many = (WideTable("t", ["k"], [("day", "desc"), "n"]) for _ in range(2))
    rows = [{"k": 1, "day": day, "n": n, "v": f"{day}/{n}"} for day in ("b", "a", "c") for n in (2, 1)]
    rows.append({"k": 1, "day": "a", "n": 1, "v": "replaced"})
    for row in rows:
        one.insert(row)
    many.insert_many(rows)
    expected = [("c", 1), ("c", 2), ("b", 1), ("b", 2), ("a", 1), ("a", 2)]
    for table in (one, many):
        assert [(r["day"], r["n"]) for r in table.select({"k": 1}).rows] == expected
        assert table.select({"k": 1, "day": "a", "n": 1}).rows[0]["v"] == "replaced"
        assert [r["day"] for r in table.select({"k": 1, "day": (">", "a")}).rows] == ["c", "c", "b", "b"]
