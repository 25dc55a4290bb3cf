"""Shared fixtures. The notebook checks (nbval) are configured in pyproject.toml."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from helpers.servers import stop_all

# The committed walkthrough outputs are those of the default path (SQLite, fakeredis,
# kombu's memory://, no NATS). A DATABASE_URL, REDIS_URL, BROKER_URL or NATS_URL left in the
# shell would switch the notebooks nbval runs to a real server; tests/test_real_servers.py,
# tests/test_shop_app.py and tests/test_messaging.py pass them themselves, one test at a time.
for _variable in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "NATS_URL"):
    os.environ.pop(_variable, None)


@pytest.fixture(autouse=True)
def _no_servers_left_running():
    """Every test starts and ends with no background server registered."""
    yield
    stop_all()


@pytest.fixture
def db(request, monkeypatch):
    """A fresh SQLite database from helpers.databases for one test, dropped afterwards."""
    from helpers.databases import drop, engine

    monkeypatch.delenv("DATABASE_URL", raising=False)
    eng = engine(request.module.__name__.rsplit(".", 1)[-1].replace("_", "-"))
    yield eng
    drop(eng)


@pytest.fixture(scope="module")
def memcached_url():
    """The ``memcache://`` URL of a private memcached started for one test module on a free
    port (tests/servers.py); skips, saying how to install it, where the binary is missing."""
    import shutil

    from tests.servers import NO_MEMCACHED, memcached_server

    if not shutil.which("memcached"):
        pytest.skip(NO_MEMCACHED)
    with memcached_server() as url:
        yield url


#: Modules whose classes take minutes (grading batches, real servers), run first in this order.
SLOW_FIRST = (
    "tests/test_real_servers.py",
    "tests/test_grading.py",
    "tests/test_grade_command.py",
    "tests/test_tamper.py",
    "tests/test_distributed_grading.py",
    "tests/test_instructor_flow.py",
)


def _catalogue_size(nodeid: str) -> int:
    """Entries in the wrong-answer catalogue of a TestGrading_<step> class (its batch's size)."""
    scope = nodeid.split("::")[1] if "::" in nodeid else ""
    assignment = scope.removeprefix("TestGrading_").replace("_", "-")
    catalogue = Path(__file__).parent / "mistakes" / f"{assignment}.yaml"
    return catalogue.read_text().count("\n- id:") if catalogue.is_file() else 0


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the marker added here
def pytest_collection_modifyitems(config, items):
    """Mark items that share their node id with another `single_process` (schemathesis makes
    one per API operation, all named like the test function): pytest-xdist keys items by node
    id and would silently run only one of them; `make test` runs these without xdist.

    Then slowest scopes first. `make test` runs pytest-xdist with `--dist loadscope
    --no-loadscope-reorder`, which hands classes and modules to the workers in this order, so
    a run does not end with one worker grading a long batch while the other has nothing left
    (seen: 4 of 17 minutes with one core idle). The grading classes go largest catalogue first."""
    def rank(item):
        for position, prefix in enumerate(SLOW_FIRST):
            if item.nodeid.startswith(prefix):
                return position, -_catalogue_size(item.nodeid)
        return len(SLOW_FIRST), 0

    per_node_id = Counter(item.nodeid for item in items)
    for shared in (item for item in items if per_node_id[item.nodeid] > 1):
        shared.add_marker(pytest.mark.single_process)
    items.sort(key=rank)  # stable: the order inside a scope is kept
