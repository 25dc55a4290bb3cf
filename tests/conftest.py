"""Shared fixtures. The notebook checks (nbval) are configured in pyproject.toml."""

from __future__ import annotations

import pytest

from helpers.servers import stop_all


@pytest.fixture(autouse=True)
def _no_servers_left_running():
    """Every test starts and ends with no background server registered."""
    yield
    stop_all()
