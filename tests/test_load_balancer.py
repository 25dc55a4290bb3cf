"""helpers/load_balancer.py: worker processes behind a round-robin balancer on 127.0.0.1."""

import pytest

from helpers.load_balancer import RoundRobinBalancer, WorkerPool, run_load, stop_all


@pytest.fixture
def workers():
    pool = WorkerPool(2)
    yield pool
    pool.stop()


def test_round_robin_spreads_requests_evenly_over_distinct_processes(workers):
    balancer = RoundRobinBalancer(workers.ports)
    try:
        seconds, statuses = run_load(balancer.url + "/primes/100", requests=10, concurrency=3)
        assert statuses == [200] * 10 and seconds > 0
        assert sorted(balancer.counts.values()) == [5, 5]
        balancer.use(workers.ports[:1])
        run_load(balancer.url + "/primes/100", requests=4, concurrency=2)
        assert dict(balancer.counts) == {workers.ports[0]: 4}
    finally:
        balancer.stop()


def test_a_dead_backend_is_a_502():
    balancer = RoundRobinBalancer([1])  # nothing listens on port 1
    try:
        _, statuses = run_load(balancer.url + "/primes/10", requests=2, concurrency=1)
        assert statuses == [502, 502]
    finally:
        balancer.stop()


def test_stop_all_is_idempotent():
    pool = WorkerPool(1)
    stop_all()
    assert all(p.poll() is not None for p in pool.processes)
    pool.stop()
