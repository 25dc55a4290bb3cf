"""helpers/load_balancer.py: worker processes behind a round-robin balancer on 127.0.0.1."""

import shutil
import subprocess

import pytest

from helpers.load_balancer import BACKLOG, RoundRobinBalancer, WorkerPool, run_load, stop_all


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


def listen_backlog(port: int) -> int:
    """The accept backlog of the socket listening on 127.0.0.1:``port`` (``ss``'s Send-Q)."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss (iproute2) is not installed: cannot read a socket's backlog")
    fields = subprocess.run([ss, "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                            check=True).stdout.split()
    return int(fields[2])


def test_workers_and_balancer_take_a_burst_of_connections(workers):
    """socketserver's default backlog (5) dropped connection attempts from 8 clients at one busy
    worker, and each retry waited 1 s: a one-worker run looked up to 10x slower than it was."""
    balancer = RoundRobinBalancer(workers.ports)
    try:
        port = int(balancer.url.rsplit(":", 1)[1])
        assert [listen_backlog(p) for p in [*workers.ports, port]] == [BACKLOG] * 3
    finally:
        balancer.stop()
