"""helpers/scale_lab.py: consistent hashing, replication lag, circuit breaker, backpressure, stale cache."""

import secrets

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.course.steps import NOTEBOOKS
from helpers.scale_lab import (
    CircuitBreaker,
    CircuitOpenError,
    FakeClock,
    HashRing,
    ReplicatedDatabase,
    StaleWhileErrorCache,
    modulo_shard,
    moved_fraction,
    simulate_queue,
    stable_hash,
)
from tests.servers import POSTGRES, REDIS, database_unreachable, redis_unreachable

KEYS = [f"user:{i}" for i in range(5000)]


def test_stable_hash_is_stable():
    assert stable_hash("user:1") == stable_hash("user:1") != stable_hash("user:2")


def test_adding_a_shard_moves_about_one_in_n_plus_one_keys_on_a_ring_and_most_with_modulo():
    ring = HashRing(["a", "b", "c", "d"])
    before = {k: ring.node_for(k) for k in KEYS}
    ring.add("e")
    ring_moved = moved_fraction(KEYS, before.get, ring.node_for)
    modulo_moved = moved_fraction(KEYS, lambda k: modulo_shard(k, 4), lambda k: modulo_shard(k, 5))
    assert 0.12 < ring_moved < 0.28  # ideal 1/5
    assert modulo_moved > 0.7  # ideal 4/5
    # keys that moved all went to the new node
    assert all(ring.node_for(k) == "e" for k in KEYS if before[k] != ring.node_for(k))


def test_virtual_nodes_even_out_the_load():
    def spread(vnodes):
        ring = HashRing(["a", "b", "c", "d"], vnodes=vnodes)
        counts = {n: 0 for n in ring.nodes}
        for k in KEYS:
            counts[ring.node_for(k)] += 1
        return max(counts.values()) / min(counts.values())

    assert spread(200) < spread(1)
    assert spread(200) < 1.35


def test_ring_remove_and_errors():
    ring = HashRing(["a", "b"], vnodes=10)
    ring.remove("a")
    assert {ring.node_for(k) for k in KEYS[:50]} == {"b"}
    with pytest.raises(ValueError):
        ring.add("b")
    ring.remove("b")
    with pytest.raises(LookupError):
        ring.node_for("x")


def test_replica_lags_then_catches_up():
    clock = FakeClock()
    db = ReplicatedDatabase("CREATE TABLE t (x INTEGER);", lag=0.5, clock=clock)
    db.write("INSERT INTO t VALUES (?)", (1,))
    assert db.read("SELECT x FROM t") == []
    assert db.read("SELECT x FROM t", replica=False) == [(1,)]
    assert db.behind == 1
    clock.advance(0.5)
    assert db.read("SELECT x FROM t") == [(1,)]
    assert db.behind == 0


def test_breaker_opens_fails_fast_then_half_open_trial():
    clock = FakeClock()
    breaker = CircuitBreaker(fail_max=2, reset_timeout=5, clock=clock)
    calls = []

    def down():
        calls.append(1)
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(down)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.call(down)
    assert len(calls) == 2  # failing fast: the service was not called
    clock.advance(5)
    assert breaker.state == "half-open"
    with pytest.raises(ConnectionError):
        breaker.call(down)  # the trial fails: open again for a full timeout
    assert breaker.state == "open"
    clock.advance(5)
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state == "closed" and breaker.failures == 0
    assert breaker.transitions == ["closed -> open", "open -> half-open", "half-open -> open",
                                   "open -> half-open", "half-open -> closed"]


def test_breaker_one_trial_at_a_time_and_excluded_errors():
    clock = FakeClock()
    breaker = CircuitBreaker(fail_max=1, reset_timeout=1, clock=clock, excluded=(KeyError,))
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["missing"])
    assert breaker.state == "closed"  # the caller's mistake says nothing about the service
    with pytest.raises(ZeroDivisionError):
        breaker.call(lambda: 1 / 0)
    clock.advance(1)

    def trial():
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: "second")
        return "first"

    assert breaker.call(trial) == "first"


def test_breaker_as_decorator():
    breaker = CircuitBreaker(fail_max=1, clock=FakeClock())

    @breaker
    def hello(name):
        return f"hello {name}"

    assert hello("x") == "hello x" and hello.__name__ == "hello"


def test_unbounded_queue_latency_grows_bounded_queue_rejects():
    unbounded = simulate_queue(arrival_rate=12, service_rate=10, seconds=10)
    bounded = simulate_queue(arrival_rate=12, service_rate=10, seconds=10, capacity=5)
    assert unbounded.rejected == 0 and unbounded.latencies[-1] > 1.5
    assert max(bounded.latencies) <= 6 / 10 + 1e-9
    assert bounded.rejected > 0 and bounded.max_queue <= 6
    under = simulate_queue(arrival_rate=8, service_rate=10, seconds=10)
    assert max(under.latencies) == pytest.approx(0.1)


def test_stale_while_error_cache():
    clock = FakeClock()
    db = {"up": True, "calls": 0}

    def load(key):
        db["calls"] += 1
        if not db["up"]:
            raise ConnectionError("database down")
        return f"{key}-v{db['calls']}"

    cache = StaleWhileErrorCache(load, ttl=10, stale_for=60, clock=clock)
    assert cache.get("k") == ("k-v1", "miss")
    assert cache.get("k") == ("k-v1", "hit")
    clock.advance(10)
    db["up"] = False
    assert cache.get("k") == ("k-v1", "stale")
    clock.advance(60)
    with pytest.raises(ConnectionError):
        cache.get("k")
    db["up"] = True
    assert cache.get("k")[1] == "refreshed"


# -- the walkthrough against real servers ---------------------------------------------------

@pytest.mark.realserver
def test_walkthrough_runs_on_postgresql_and_redis(monkeypatch):
    """11b's pool section on PostgreSQL and its Redis section on Redis: no error, no stderr,
    and the same connection counts as on SQLite (the timings differ, so they are not compared)."""
    reason = database_unreachable(POSTGRES) or redis_unreachable(REDIS)
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("DATABASE_URL", POSTGRES)
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setenv("LAB_RUN_ID", f"t{secrets.token_hex(3)}")
    nb = nbformat.read(NOTEBOOKS / "11b-architecture-and-scale.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    stdout = "".join(o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if o.output_type == "stream" and o.name == "stdout")
    stderr = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []
    assert "NullPool:  100 connections opened for 100 queries" in stdout
    assert "QueuePool: 1 connection  opened for 100 queries" in stdout
    assert "TimeoutError: QueuePool limit of size 2 overflow 0 reached" in stdout
