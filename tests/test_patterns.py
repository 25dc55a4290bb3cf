"""helpers/patterns.py: aggregate, event store, repository, projection, saga."""

import pytest

from helpers.patterns import (
    AccountRepository,
    BalanceProjection,
    ConcurrencyError,
    DomainError,
    EventStore,
    SagaStep,
    run_saga,
)


@pytest.fixture
def repo():
    return AccountRepository(EventStore())


def test_aggregate_keeps_its_invariant(repo):
    acc = repo.get("acc-1")
    with pytest.raises(DomainError):
        acc.deposit(5)  # not open
    acc.open("ada")
    acc.deposit(100)
    with pytest.raises(DomainError):
        acc.withdraw(101)
    with pytest.raises(DomainError):
        acc.deposit(0)
    repo.save(acc)
    assert acc.version == 2 and acc.pending == []
    again = repo.get("acc-1")
    assert (again.balance, again.version, again.opened) == (100, 2, True)


def test_optimistic_concurrency(repo):
    acc = repo.get("a")
    acc.open("x")
    acc.deposit(10)
    repo.save(acc)
    first, second = repo.get("a"), repo.get("a")
    first.withdraw(10)
    second.withdraw(10)
    repo.save(first)
    with pytest.raises(ConcurrencyError, match="version 3, not 2"):
        repo.save(second)
    assert repo.get("a").balance == 0


def test_projection_catches_up_and_rebuilds(repo):
    projection = BalanceProjection(repo.store)
    for name, cents in (("a", 50), ("b", 70)):
        acc = repo.get(name)
        acc.open(name.upper())
        acc.deposit(cents)
        repo.save(acc)
    assert projection.rows() == []  # lags until it catches up
    assert projection.catch_up() == 4
    acc = repo.get("a")
    acc.withdraw(20)
    repo.save(acc)
    assert projection.catch_up() == 1
    rows = projection.rows()
    assert rows == [("a", "A", 30, 2), ("b", "B", 70, 1)]
    assert projection.rebuild() == 5 and projection.rows() == rows


def test_saga_compensates_in_reverse_order():
    done = []
    steps = [
        SagaStep("reserve", lambda: done.append("reserve"), lambda: done.append("release")),
        SagaStep("charge", lambda: done.append("charge"), lambda: done.append("refund")),
        SagaStep("ship", lambda: 1 / 0),
    ]
    result = run_saga(steps)
    assert not result.completed
    assert done == ["reserve", "charge", "refund", "release"]
    assert result.log[-2:] == ["charge: compensated", "reserve: compensated"]
    assert run_saga(steps[:2]).completed
