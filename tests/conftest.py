"""Shared fixtures. The notebook checks (nbval) are configured in pyproject.toml."""

from __future__ import annotations

import os

import pytest

from helpers.servers import stop_all

# The committed walkthrough outputs are those of the default path (SQLite, fakeredis).
# A DATABASE_URL or REDIS_URL left in the shell would switch the notebooks nbval runs to a
# real server; tests/test_real_servers.py sets them itself, one test at a time.
for _variable in ("DATABASE_URL", "REDIS_URL"):
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
