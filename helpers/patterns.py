"""Design patterns of step 11b in a few dozen lines each: DDD, event sourcing, CQRS, a saga.

- :class:`Account` — a DDD **aggregate**: the only way to change an account, it keeps its
  invariant (no overdraft) and records what happened as **events**;
- :class:`EventStore` — an append-only SQLite table of events per stream, with optimistic
  concurrency (``expected_version``), so two writers cannot both append version 3;
- :class:`AccountRepository` — loads an aggregate by replaying its events, saves the new ones;
- :class:`BalanceProjection` — a **read model** (CQRS): a table shaped for queries, updated
  from the events and rebuildable from scratch at any time;
- :func:`run_saga` — a sequence of local transactions in different services, each with a
  **compensation** run in reverse order when a later step fails (no distributed lock, no
  two-phase commit: the system is briefly inconsistent, then repaired).

The event store keeps events as JSON; a production one (EventStoreDB, Marten, a
PostgreSQL table with the same unique constraint) adds subscriptions and snapshots.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Account",
    "AccountRepository",
    "BalanceProjection",
    "ConcurrencyError",
    "DomainError",
    "Event",
    "EventStore",
    "SagaResult",
    "SagaStep",
    "run_saga",
]


class DomainError(ValueError):
    """A command the aggregate refuses because it would break a business rule."""


class ConcurrencyError(RuntimeError):
    """Someone else appended to the stream since it was read: reload and retry."""


@dataclass(frozen=True)
class Event:
    """Something that happened, in the past tense: ``Event("Deposited", {"amount": 50})``."""

    type: str
    data: dict[str, Any]


class Account:
    """An aggregate: state is rebuilt from events; commands check rules, then record events.

    Amounts are integers (cents): never floats for money.
    """

    def __init__(self, account_id: str) -> None:
        self.id = account_id
        self.opened = False
        self.balance = 0
        self.version = 0  # events applied so far (what the store had when we loaded)
        self.pending: list[Event] = []  # new events, not saved yet

    # -- commands: check the rules, then record an event -----------------------------------
    def open(self, owner: str) -> None:
        if self.opened:
            raise DomainError(f"account {self.id} is already open")
        self._record(Event("AccountOpened", {"owner": owner}))

    def deposit(self, cents: int) -> None:
        self._require_open()
        if cents <= 0:
            raise DomainError("a deposit must be positive")
        self._record(Event("Deposited", {"cents": cents}))

    def withdraw(self, cents: int) -> None:
        self._require_open()
        if cents <= 0:
            raise DomainError("a withdrawal must be positive")
        if cents > self.balance:
            raise DomainError(f"insufficient funds: balance {self.balance}, asked {cents}")
        self._record(Event("Withdrawn", {"cents": cents}))

    # -- events: change the state, never fail ----------------------------------------------
    def apply(self, event: Event) -> None:
        if event.type == "AccountOpened":
            self.opened = True
        elif event.type == "Deposited":
            self.balance += event.data["cents"]
        elif event.type == "Withdrawn":
            self.balance -= event.data["cents"]

    def _record(self, event: Event) -> None:
        self.apply(event)
        self.pending.append(event)

    def _require_open(self) -> None:
        if not self.opened:
            raise DomainError(f"account {self.id} is not open")


class EventStore:
    """Append-only events per stream in SQLite; ``(stream, version)`` is unique."""

    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY AUTOINCREMENT,"
            " stream TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,"
            " UNIQUE (stream, version))"
        )

    def append(self, stream: str, events: Iterable[Event], expected_version: int) -> int:
        """Append ``events`` after ``expected_version``; :class:`ConcurrencyError` if the stream moved on."""
        events = list(events)
        try:
            with self.db:
                for offset, event in enumerate(events, start=1):
                    self.db.execute(
                        "INSERT INTO events (stream, version, type, data) VALUES (?, ?, ?, ?)",
                        (stream, expected_version + offset, event.type, json.dumps(event.data)),
                    )
        except sqlite3.IntegrityError:
            current = self.version(stream)
            raise ConcurrencyError(
                f"stream {stream!r} is at version {current}, not {expected_version}"
            ) from None
        return expected_version + len(events)

    def version(self, stream: str) -> int:
        """The last version of ``stream`` (0 if it has no events)."""
        return self.db.execute("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?",
                               (stream,)).fetchone()[0]

    def read(self, stream: str) -> list[Event]:
        """The events of ``stream`` in order."""
        rows = self.db.execute("SELECT type, data FROM events WHERE stream = ? ORDER BY version", (stream,))
        return [Event(t, json.loads(d)) for t, d in rows]

    def read_all(self, after: int = 0) -> list[tuple[int, str, Event]]:
        """Every event after global ``position`` ``after``: ``(position, stream, event)``."""
        rows = self.db.execute("SELECT position, stream, type, data FROM events WHERE position > ? "
                               "ORDER BY position", (after,))
        return [(p, s, Event(t, json.loads(d))) for p, s, t, d in rows]


class AccountRepository:
    """Loads and saves :class:`Account` aggregates; the only code that knows about the store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def get(self, account_id: str) -> Account:
        account = Account(account_id)
        for event in self.store.read(account_id):
            account.apply(event)
            account.version += 1
        return account

    def save(self, account: Account) -> None:
        account.version = self.store.append(account.id, account.pending, account.version)
        account.pending = []


class BalanceProjection:
    """A read model: one row per account with its owner, balance and number of movements.

    It lives in its own database and is updated by reading the store's events after the
    last position it has seen, so it can lag behind, and can be deleted and rebuilt.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.db = sqlite3.connect(":memory:")
        self.reset()

    def reset(self) -> None:
        """Forget everything (the read model is disposable)."""
        self.db.executescript(
            "DROP TABLE IF EXISTS balances; DROP TABLE IF EXISTS checkpoint;"
            "CREATE TABLE balances (account TEXT PRIMARY KEY, owner TEXT, cents INTEGER, movements INTEGER);"
            "CREATE TABLE checkpoint (position INTEGER); INSERT INTO checkpoint VALUES (0);"
        )

    @property
    def position(self) -> int:
        return self.db.execute("SELECT position FROM checkpoint").fetchone()[0]

    def catch_up(self) -> int:
        """Apply the events not seen yet; return how many."""
        new = self.store.read_all(after=self.position)
        with self.db:
            for position, stream, event in new:
                if event.type == "AccountOpened":
                    self.db.execute("INSERT INTO balances VALUES (?, ?, 0, 0)", (stream, event.data["owner"]))
                elif event.type in ("Deposited", "Withdrawn"):
                    sign = 1 if event.type == "Deposited" else -1
                    self.db.execute("UPDATE balances SET cents = cents + ?, movements = movements + 1 "
                                    "WHERE account = ?", (sign * event.data["cents"], stream))
                self.db.execute("UPDATE checkpoint SET position = ?", (position,))
        return len(new)

    def rebuild(self) -> int:
        """Drop the read model and replay every event from the start."""
        self.reset()
        return self.catch_up()

    def rows(self) -> list[tuple]:
        """The read model's rows: ``(account, owner, cents, movements)`` by account."""
        sql = "SELECT account, owner, cents, movements FROM balances ORDER BY account"
        return self.db.execute(sql).fetchall()


# -- saga -----------------------------------------------------------------------------------


@dataclass
class SagaStep:
    """One local transaction in one service, and the action that undoes its effect."""

    name: str
    action: Callable[[], Any]
    compensation: Callable[[], Any] | None = None


@dataclass
class SagaResult:
    completed: bool
    log: list[str] = field(default_factory=list)


def run_saga(steps: Iterable[SagaStep]) -> SagaResult:
    """Run ``steps`` in order; if one fails, compensate the completed ones in reverse order.

    Each step commits on its own (others can see its effect at once), so a compensation
    is a new, semantic action — a refund, a stock release — not a rollback. Compensations
    must be idempotent and must eventually succeed (a real orchestrator retries them and
    keeps the saga's state durably; this one records what it did in ``log``).
    """
    result = SagaResult(completed=False)
    done: list[SagaStep] = []
    for step in steps:
        try:
            step.action()
        except Exception as error:
            result.log.append(f"{step.name}: failed ({error})")
            for finished in reversed(done):
                if finished.compensation is not None:
                    finished.compensation()
                    result.log.append(f"{finished.name}: compensated")
            return result
        result.log.append(f"{step.name}: done")
        done.append(step)
    result.completed = True
    return result
