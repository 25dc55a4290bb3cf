"""A local httpbin (https://httpbin.org's code, the ``httpbin`` package) on 127.0.0.1.

Step 02 practises ``requests`` against it without touching the internet::

    from helpers.local_httpbin import start_httpbin
    httpbin = start_httpbin()
    requests.get(httpbin.url + "/get", params={"q": "flask"}, timeout=5).json()
"""

from __future__ import annotations

import logging

from helpers.servers import BackgroundServer, serve

__all__ = ["start_httpbin"]


def _import_httpbin_app():
    # httpbin logs "flasgger is not installed" to stderr when imported; nbval compares
    # stderr and nbgrader zeroes a test cell that writes to it, so mute that one warning.
    logger = logging.getLogger("httpbin.core")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from httpbin import app
    finally:
        logger.setLevel(previous)
    return app


def start_httpbin(name: str = "httpbin") -> BackgroundServer:
    """Start (or restart) a local httpbin and return the running server; ``.url`` is its base."""
    return serve(_import_httpbin_app(), name=name)
