"""helpers.dynamo: moto's DynamoDB in process, fake credentials, a fixed region; reads and their cost."""

from __future__ import annotations

import pytest
from boto3.dynamodb.conditions import Attr, Key

from helpers import dynamo


@pytest.fixture
def local():
    started = dynamo.start()
    yield started
    dynamo.stop()


def orders_table(local):
    """PK customer, SK order date; a GSI by day on the orders only (the profile has no day)."""
    table = local.resource.create_table(
        TableName="shop", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "DAY")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_day", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "DAY", "KeyType": "HASH"},
                                               {"AttributeName": "SK", "KeyType": "RANGE"}]}],
    )
    with table.batch_writer() as batch:
        for customer in (1, 2, 3):
            batch.put_item(Item={"PK": f"C#{customer}", "SK": "PROFILE"})
            for day in (1, 2, 3, 4):
                batch.put_item(Item={"PK": f"C#{customer}", "SK": f"ORDER#2026-03-0{day}", "DAY": f"0{day}"})
    return table


def test_clients_use_fake_credentials_and_the_fixed_region_whatever_the_environment(local, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fresh = dynamo.start()
    credentials = fresh.client._request_signer._credentials
    assert credentials.access_key == "testing"
    assert fresh.client.meta.region_name == dynamo.REGION == fresh.resource.meta.client.meta.region_name


def test_start_again_gives_an_empty_database_and_stop_is_idempotent(local):
    orders_table(local)
    assert local.client.list_tables()["TableNames"] == ["shop"]
    again = dynamo.start()
    assert not local.running, "the previous mock was stopped"
    assert again.client.list_tables()["TableNames"] == []
    dynamo.stop()
    dynamo.stop()
    assert not again.running


def test_query_reads_only_its_key_range_scan_reads_everything(local):
    table = orders_table(local)
    orders_of_2 = Key("PK").eq("C#2") & Key("SK").begins_with("ORDER#")
    query = dynamo.read(table.query, KeyConditionExpression=orders_of_2, ScanIndexForward=False)
    assert [item["SK"] for item in query.items] == [f"ORDER#2026-03-0{d}" for d in (4, 3, 2, 1)]
    assert (query.count, query.scanned, query.requests) == (4, 4, 1)
    scan = dynamo.read(table.scan, FilterExpression=Attr("PK").eq("C#2") & Attr("SK").begins_with("ORDER#"))
    assert (scan.count, scan.scanned) == (4, 15), "a filter is applied after reading all 15 items"
    assert "4 items returned, 15 read, in 1 request" == str(scan)


def test_the_gsi_answers_the_second_access_pattern_and_is_sparse(local):
    table = orders_table(local)
    day = dynamo.read(table.query, IndexName="by_day", KeyConditionExpression=Key("DAY").eq("02"))
    assert sorted(item["PK"] for item in day.items) == ["C#1", "C#2", "C#3"]
    assert day.scanned == 3
    whole_index = dynamo.read(table.scan, IndexName="by_day")
    assert whole_index.count == 12, "profiles have no DAY, so they are not in the index"


def test_read_follows_pages_and_limit_stops_after_one(local):
    table = local.resource.create_table(
        TableName="big", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    with table.batch_writer() as batch:
        for n in range(12):
            batch.put_item(Item={"id": f"{n:02d}", "blob": "x" * 150_000})  # 1.8 MB: more than one 1 MB page
    everything = dynamo.read(table.scan, ProjectionExpression="id")
    assert everything.count == 12 and everything.requests >= 2
    limited = dynamo.read(table.scan, Limit=5, ProjectionExpression="id")
    assert (limited.count, limited.requests) == (5, 1)


@pytest.mark.parametrize(("item", "size"), [
    ({"PK": "ab"}, 4),
    ({"PK": "ż"}, 4),  # two UTF-8 bytes
    ({"n": 12345}, 1 + 4),  # five digits: three bytes, plus one
    ({"n": 7}, 1 + 2),
    ({"flag": True}, 4 + 1),
])
def test_item_size_follows_dynamodbs_rules(item, size):
    assert dynamo.item_size(item) == size


@pytest.mark.parametrize(("bytes_read", "consistent", "units"), [
    (0, False, 0.5), (4096, False, 0.5), (4097, False, 1.0), (4097, True, 2.0), (40_000, False, 5.0),
])
def test_read_units_round_up_to_4_kb_and_halve_for_eventual_consistency(bytes_read, consistent, units):
    assert dynamo.read_units(bytes_read, consistent=consistent) == units
