"""helpers.keyvalue: fakeredis by default, named as such; namespaces keep runs apart."""

from __future__ import annotations

import pytest

from helpers import keyvalue
from helpers.keyvalue import client, describe, is_fake, namespace


@pytest.fixture
def r(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    return client()


def test_default_is_fakeredis_and_says_so(r):
    assert is_fake(r)
    assert describe(r).startswith("fakeredis (an embedded Redis stand-in, not a real server")
    assert r.set("x", "1") and r.get("x") == "1", "values come back as str"


def test_namespace_builds_prefixed_keys(r):
    key = namespace(r)
    assert key("product", 7).startswith("lab:")
    assert key("product", 7).endswith(":product:7")
    with pytest.raises(ValueError, match="at least one part"):
        key()


def test_namespaces_are_disjoint_and_clear_removes_only_their_keys(r):
    mine, theirs = namespace(r), namespace(r)
    assert mine.prefix != theirs.prefix
    r.set(mine("a"), 1)
    r.set(mine("b"), 2)
    r.set(theirs("a"), 3)
    assert mine.keys() == sorted([mine("a"), mine("b")])
    assert mine.clear() == 2
    assert mine.keys() == []
    assert r.get(theirs("a")) == "3"
    theirs.clear()


def test_run_id_goes_into_the_prefix(r, monkeypatch):
    monkeypatch.setenv("LAB_RUN_ID", "CI-run_42")
    assert namespace(r).prefix.startswith("lab:cirun42_")


def test_clear_all_clears_every_namespace(r):
    key = namespace(r)
    r.set(key("x"), 1)
    keyvalue.clear_all()
    assert key.keys() == []


def test_bad_url_and_unreachable_server_say_what_to_do():
    with pytest.raises(ValueError, match="not a Redis URL"):
        client("http://127.0.0.1:6379")
    with pytest.raises(ConnectionError, match="unset it to use the embedded fakeredis"):
        client("redis://127.0.0.1:1/0")
