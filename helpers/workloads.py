"""Workloads for the concurrency examples: CPU-bound work and a slow local service.

Functions a process pool runs must be importable (with the ``spawn`` start method,
the default on Windows and macOS, the child re-imports them), so they live here
rather than in a notebook cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

__all__ = ["count_primes", "slow_service"]


def count_primes(limit: int) -> int:
    """How many primes are below ``limit``, by trial division: deliberately CPU-bound."""
    count = 0
    for n in range(2, limit):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            count += 1
    return count


def slow_service(delay: float = 0.1) -> Callable[[dict, Callable], Iterable[bytes]]:
    """A WSGI app that waits ``delay`` seconds (like a slow database) and answers ``ok``."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        time.sleep(delay)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    app.__name__ = "slow_service"
    return app
