"""Small, readable models of the scaling techniques in step 11b, with a clock you control.

Everything here is deterministic: time comes from a :class:`FakeClock` the notebook
advances by hand, and hashing uses BLAKE2b of the key (not Python's salted ``hash()``),
so the walkthrough's outputs are the same on every run and every machine.

- :class:`HashRing` — consistent hashing with virtual nodes, and :func:`modulo_shard`,
  the naive alternative, with :func:`moved_fraction` to compare them when a shard is added;
- :class:`ReplicatedDatabase` — a primary and a read replica (two SQLite databases) and a
  replication log applied after a lag, to show stale reads and read-your-writes;
- :class:`CircuitBreaker` — closed / open / half-open, usable as a decorator;
- :func:`simulate_queue` — one server fed faster than it can serve, with a bounded or an
  unbounded queue: what backpressure does to latency;
- :class:`StaleWhileErrorCache` — graceful degradation: serve a stale value when the
  database is down, and say so.

Production systems use libraries for these (``pybreaker`` or ``purgatory`` for circuit
breakers, the database's own replication, a proxy's or driver's consistent hashing); the
versions here are short enough to read in one sitting and take an injectable clock.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "FakeClock",
    "HashRing",
    "QueueRun",
    "ReplicatedDatabase",
    "StaleWhileErrorCache",
    "moved_fraction",
    "modulo_shard",
    "simulate_queue",
    "stable_hash",
]


class FakeClock:
    """A clock that only moves when told to: ``clock()`` is the time, ``advance(s)`` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds``; return the new time."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self.now += seconds
        return self.now


# -- sharding -------------------------------------------------------------------------------


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process (unlike ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def modulo_shard(key: str, shards: int) -> int:
    """The naive placement: ``hash(key) % shards``. Changing ``shards`` moves most keys."""
    return stable_hash(key) % shards


class HashRing:
    """Consistent hashing: nodes and keys on one circle of hash values.

    A key belongs to the first node position clockwise from the key's hash. Each node is
    placed ``vnodes`` times (virtual nodes, ``"shard-a#17"``), which evens out the share
    of keys each node gets. Adding a node takes keys only from the arcs where its
    positions land, about ``1/(n+1)`` of them; every other key stays where it was.
    """

    def __init__(self, nodes: Iterable[str] = (), vnodes: int = 100) -> None:
        if vnodes < 1:
            raise ValueError("vnodes must be at least 1")
        self.vnodes = vnodes
        self._positions: list[int] = []
        self._owners: dict[int, str] = {}
        self.nodes: set[str] = set()
        for node in nodes:
            self.add(node)

    def add(self, node: str) -> None:
        """Place ``node`` on the ring at ``vnodes`` positions."""
        if node in self.nodes:
            raise ValueError(f"{node!r} is already on the ring")
        self.nodes.add(node)
        for i in range(self.vnodes):
            position = stable_hash(f"{node}#{i}")
            self._owners[position] = node
            bisect.insort(self._positions, position)

    def remove(self, node: str) -> None:
        """Take ``node`` off the ring; its keys go to the next positions clockwise."""
        self.nodes.remove(node)
        for i in range(self.vnodes):
            position = stable_hash(f"{node}#{i}")
            del self._owners[position]
            self._positions.remove(position)

    def node_for(self, key: str) -> str:
        """The node that owns ``key``."""
        if not self._positions:
            raise LookupError("the ring has no nodes")
        index = bisect.bisect(self._positions, stable_hash(key)) % len(self._positions)
        return self._owners[self._positions[index]]


def moved_fraction(keys: Iterable[str], before: Callable[[str], Hashable],
                   after: Callable[[str], Hashable]) -> float:
    """The fraction of ``keys`` whose placement differs between ``before`` and ``after``."""
    keys = list(keys)
    moved = sum(1 for key in keys if before(key) != after(key))
    return moved / len(keys)


# -- replication ----------------------------------------------------------------------------


class ReplicatedDatabase:
    """A primary and one asynchronous read replica: two SQLite databases and a log between them.

    Writes go to the primary, which commits and appends the statement to its replication
    log with the commit time. :meth:`replicate` applies, on the replica, the entries that
    are at least ``lag`` seconds old (the time it takes to ship and apply them). Reads from
    the replica may therefore be stale; :meth:`read` with ``after_write`` shows the usual
    fix (read your own writes from the primary for a while).
    """

    def __init__(self, schema: str, lag: float, clock: Callable[[], float]) -> None:
        self.primary = sqlite3.connect(":memory:")
        self.replica = sqlite3.connect(":memory:")
        for db in (self.primary, self.replica):
            db.executescript(schema)
        self.lag = lag
        self.clock = clock
        self.log: list[tuple[float, str, tuple]] = []
        self.applied = 0  # position of the replica in the log

    def write(self, sql: str, params: tuple = ()) -> None:
        """Run a write on the primary, commit it, and log it for the replica."""
        with self.primary:
            self.primary.execute(sql, params)
        self.log.append((self.clock(), sql, params))

    def replicate(self) -> int:
        """Apply the log entries old enough to have reached the replica; return how many."""
        done = 0
        while self.applied < len(self.log) and self.log[self.applied][0] + self.lag <= self.clock():
            _, sql, params = self.log[self.applied]
            with self.replica:
                self.replica.execute(sql, params)
            self.applied += 1
            done += 1
        return done

    @property
    def behind(self) -> int:
        """How many committed writes the replica has not applied yet."""
        return len(self.log) - self.applied

    def read(self, sql: str, params: tuple = (), *, replica: bool = True) -> list[tuple]:
        """Run a read on the replica (after catching up on what has arrived) or on the primary."""
        if replica:
            self.replicate()
            return self.replica.execute(sql, params).fetchall()
        return self.primary.execute(sql, params).fetchall()


# -- circuit breaker ------------------------------------------------------------------------


class CircuitOpenError(RuntimeError):
    """Raised instead of calling the service while the circuit is open: fail fast."""


class CircuitBreaker:
    """Stop calling a failing service for a while, then let one trial call through.

    - **closed**: calls go through; ``fail_max`` consecutive failures open the circuit.
    - **open**: calls fail at once with :class:`CircuitOpenError`, without touching the
      service, until ``reset_timeout`` seconds have passed since it opened.
    - **half-open**: the next call is a trial. Success closes the circuit (failures
      reset to 0); failure opens it again for another ``reset_timeout``. While the trial
      is running, other calls are rejected (one trial at a time).

    ``excluded`` exceptions (e.g. a 404 the caller caused) count as successes: they say
    the service is up. Use it as ``breaker.call(fn, ...)`` or as a decorator ``@breaker``.

    This teaching version is not thread-safe and keeps its state in one process;
    pybreaker adds a lock, listeners and state shared through Redis.
    """

    def __init__(self, fail_max: int = 3, reset_timeout: float = 10.0,
                 clock: Callable[[], float] | None = None,
                 excluded: tuple[type[BaseException], ...] = ()) -> None:
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.clock = clock or time.monotonic
        self.excluded = excluded
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False
        self.transitions: list[str] = []  # "closed -> open", ... for the notebook to show

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"`` (open whose timeout has passed)."""
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_timeout:
            return "half-open"
        return "open"

    def _move(self, before: str, after: str) -> None:
        if before != after:
            self.transitions.append(f"{before} -> {after}")

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` through the breaker."""
        state = self.state
        if state == "open" or (state == "half-open" and self._trial_running):
            raise CircuitOpenError(f"circuit open: not calling {getattr(fn, '__name__', fn)!r}")
        if state == "half-open":
            self._move("open", "half-open")
            self._trial_running = True
        try:
            result = fn(*args, **kwargs)
        except self.excluded:
            self._success(state)
            raise
        except Exception:
            self._failure(state)
            raise
        finally:
            self._trial_running = False
        self._success(state)
        return result

    def _success(self, state: str) -> None:
        self.failures = 0
        if state == "half-open":
            self.opened_at = None
            self._move("half-open", "closed")

    def _failure(self, state: str) -> None:
        self.failures += 1
        if state == "half-open" or self.failures >= self.fail_max:
            self.opened_at = self.clock()
            self._move("half-open" if state == "half-open" else "closed", "open")

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator form: every call of the decorated function goes through the breaker."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return wrapper


# -- backpressure ---------------------------------------------------------------------------


@dataclass
class QueueRun:
    """What :func:`simulate_queue` saw: per accepted request its arrival time and latency."""

    arrivals: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    rejected: int = 0
    max_queue: int = 0

    @property
    def served(self) -> int:
        return len(self.latencies)


def simulate_queue(arrival_rate: float, service_rate: float, seconds: float,
                   capacity: int | None = None) -> QueueRun:
    """One worker serving requests in order; requests arrive evenly at ``arrival_rate`` per second.

    Each takes ``1/service_rate`` seconds of the worker. A request that finds ``capacity``
    requests already waiting is **rejected at once** (a 503 with Retry-After: backpressure);
    ``capacity=None`` is an unbounded queue that accepts everything. The simulation is
    exact arithmetic, not a timing, so it is the same on every machine.
    """
    run = QueueRun()
    service = 1 / service_rate
    waiting: deque[float] = deque()  # finish times of the accepted requests not done yet
    free_at = 0.0
    n = int(seconds * arrival_rate)
    for i in range(n):
        now = i / arrival_rate
        while waiting and waiting[0] <= now:
            waiting.popleft()
        queued = max(0, len(waiting) - 1)  # the one being served is not waiting
        if capacity is not None and queued >= capacity:
            run.rejected += 1
            continue
        start = max(now, free_at)
        free_at = start + service
        waiting.append(free_at)
        run.arrivals.append(now)
        run.latencies.append(free_at - now)
        run.max_queue = max(run.max_queue, queued + 1)
    return run


# -- graceful degradation -------------------------------------------------------------------


class StaleWhileErrorCache:
    """Cache-aside with a fallback: when the loader fails, serve the last value if not too old.

    A value is **fresh** for ``ttl`` seconds. After that the loader is called again; if it
    raises, the old value is served, marked stale, for up to ``stale_for`` more seconds
    (HTTP's ``stale-if-error`` idea). Beyond that the error reaches the caller: serving
    very old data silently can be worse than an error.
    """

    def __init__(self, loader: Callable[[str], Any], ttl: float, stale_for: float,
                 clock: Callable[[], float]) -> None:
        self.loader = loader
        self.ttl = ttl
        self.stale_for = stale_for
        self.clock = clock
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> tuple[Any, str]:
        """``(value, how)`` where ``how`` is ``"hit"``, ``"miss"``, ``"refreshed"`` or ``"stale"``."""
        now = self.clock()
        cached = self._values.get(key)
        if cached and now - cached[0] < self.ttl:
            return cached[1], "hit"
        try:
            value = self.loader(key)
        except Exception:
            if cached and now - cached[0] < self.ttl + self.stale_for:
                return cached[1], "stale"
            raise
        self._values[key] = (now, value)
        return value, "refreshed" if cached else "miss"
