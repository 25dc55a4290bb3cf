"""helpers.memcached: pymemcache's stand-in by default, a real memcached with MEMCACHED_URL;
the calls step 11b makes answer the same on both."""

from __future__ import annotations

import pytest
from pymemcache.client.base import Client
from pymemcache.test.utils import MockMemcacheClient

from helpers import memcached
from helpers.memcached import client, describe, is_fake, namespace, parse_url
from tests.servers import memcached_keys


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.delenv("MEMCACHED_URL", raising=False)
    yield client()
    memcached.clear_all()


@pytest.fixture
def real(memcached_url, monkeypatch):
    monkeypatch.setenv("MEMCACHED_URL", memcached_url)
    mc = client()
    yield mc
    memcached.clear_all()  # before close: clearing later would open a new connection
    mc.close()


@pytest.fixture(params=["stand-in", "real"])
def mc(request):
    """Each test below runs on the stand-in and on a private memcached (skipped without one)."""
    return request.getfixturevalue("stand_in" if request.param == "stand-in" else "real")


def test_default_is_the_stand_in_and_says_so(stand_in):
    assert is_fake(stand_in) and isinstance(stand_in, MockMemcacheClient)
    assert describe(stand_in).startswith("MockMemcacheClient (pymemcache's in-process Memcached stand-in")


def test_url_gives_a_real_client_that_says_its_version(real, memcached_url):
    assert isinstance(real, Client) and not is_fake(real)
    host, port = parse_url(memcached_url)
    assert describe(real).startswith("Memcached 1.")
    assert describe(real).endswith(f"(server at {host}:{port})")


@pytest.mark.parametrize(("url", "expected"), [
    ("memcache://127.0.0.1:11211", ("127.0.0.1", 11211)),
    ("memcached://cache.internal", ("cache.internal", 11211)),
    ("memcache://127.0.0.1:12000/", ("127.0.0.1", 12000)),
])
def test_parse_url(url, expected):
    assert parse_url(url) == expected


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "127.0.0.1:11211", "memcache://",
                                 "memcache://127.0.0.1:port", "memcache://127.0.0.1:11211/0"])
def test_bad_url_says_the_form(url):
    with pytest.raises(ValueError, match=r"not a memcached URL; use e\.g\. memcache://127\.0\.0\.1:11211"):
        client(url)


def test_unreachable_server_says_what_to_do():
    with pytest.raises(ConnectionError, match="Cannot reach memcached at .*unset it to use pymemcache"):
        client("memcache://127.0.0.1:1")


def test_cache_aside_values_come_back_as_bytes(mc):
    key = namespace(mc)
    assert mc.get(key("page", "/")) is None
    assert mc.set(key("page", "/"), "<p>café</p>", expire=60) is True
    assert mc.get(key("page", "/")) == "<p>café</p>".encode()
    assert mc.set(key("raw"), b"\x00\xff") and mc.get(key("raw")) == b"\x00\xff"
    key.clear()


def test_an_expiry_in_the_past_hides_the_item_at_once(mc):
    key = namespace(mc)
    mc.set(key("gone"), b"x", expire=-1)
    assert mc.get(key("gone")) is None


@pytest.mark.parametrize("value", [{"a": 1}, ["a"], 1.5, True, None])
def test_structures_are_refused_with_advice(mc, value):
    key = namespace(mc)
    with pytest.raises(TypeError, match=f"memcached stores bytes, not {type(value).__name__}: serialise it"):
        mc.set(key("x"), value)
    assert mc.get(key("x")) is None
    assert mc.set(key("y"), b"still usable") and mc.get(key("y")) == b"still usable"
    key.clear()


def test_counters_incr_only_existing_keys(mc):
    key = namespace(mc)
    assert mc.incr(key("views"), 1) is None, "memcached's incr does not create the key"
    assert mc.add(key("views"), 0, noreply=False) is True
    assert [mc.incr(key("views"), 1) for _ in range(3)] == [1, 2, 3]
    assert mc.get(key("views")) == 3
    key.clear()


def test_decr_stops_at_zero_on_the_server_only(real, stand_in):
    """A difference the stand-in has (so step 11b does not use decr)."""
    for mc in (real, stand_in):
        key = namespace(mc)
        mc.set(key("n"), 3)
        assert mc.decr(key("n"), 5) == (0 if mc is real else -2)


def test_add_is_a_lock_only_one_worker_gets(mc):
    key = namespace(mc)
    assert mc.add(key("lock"), b"A", expire=10, noreply=False) is True
    assert mc.add(key("lock"), b"B", expire=10, noreply=False) is False
    assert mc.get(key("lock")) == b"A"
    assert mc.delete(key("lock"), noreply=False) is True
    assert mc.delete(key("lock"), noreply=False) is False
    assert mc.add(key("lock"), b"B", expire=10, noreply=False) is True
    key.clear()


def test_namespaces_are_disjoint_and_clear_removes_only_their_keys(mc, monkeypatch):
    monkeypatch.setenv("LAB_RUN_ID", "CI-run_42")
    mine, theirs = namespace(mc), namespace(mc)
    assert mine.prefix.startswith("lab:cirun42_") and mine.prefix != theirs.prefix
    mc.set(mine("a"), b"1")
    mc.set(mine("b"), b"2")
    mc.set(theirs("a"), b"3")
    assert mine.remaining() == sorted([mine("a"), mine("b")])
    assert mine.clear() == 2
    assert mine.remaining() == []
    assert mc.get(theirs("a")) == b"3"
    with pytest.raises(ValueError, match="at least one part"):
        mine()
    memcached.clear_all()
    assert mc.get(theirs("a")) is None


def test_clear_all_leaves_nothing_on_the_server(real, memcached_url):
    key = namespace(real, "leftover")
    real.set(key("a"), b"1", expire=60)
    assert key("a") in memcached_keys(memcached_url)
    memcached.clear_all()
    assert [k for k in memcached_keys(memcached_url) if k.startswith(key.prefix)] == []
