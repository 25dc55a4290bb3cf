"""Background servers by name, so that re-running a notebook cell never leaks one.

:mod:`helpers.servers` (WSGI), :mod:`helpers.asgi_server` and :mod:`helpers.grpc_lab`
each keep a :class:`ServerRegistry`: starting a server under a name that is taken
stops the old server first, and every server still registered is stopped when the
interpreter exits.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Stoppable(Protocol):
    def stop(self) -> None: ...


S = TypeVar("S", bound=Stoppable)


class ServerRegistry(Generic[S]):
    """Running servers by name (thread-safe); stops them all at interpreter exit."""

    def __init__(self) -> None:
        self._servers: dict[str, S] = {}
        self._lock = threading.Lock()
        atexit.register(self.stop_all)

    def replace(self, name: str, make: Callable[[], S]) -> S:
        """Stop the server registered as ``name`` (if any), then register ``make()`` under it."""
        with self._lock:
            previous = self._servers.pop(name, None)
        if previous is not None:
            previous.stop()  # first, so that its port and resources are free
        server = make()
        with self._lock:
            self._servers[name] = server
        return server

    def forget(self, name: str, server: S) -> None:
        """Unregister ``server`` (a stopped server calls this; a newer one under ``name`` stays)."""
        with self._lock:
            if self._servers.get(name) is server:
                del self._servers[name]

    def running(self) -> dict[str, S]:
        """The registered servers, by name."""
        with self._lock:
            return dict(self._servers)

    def stop_all(self) -> None:
        """Stop every registered server.

        Servers that can be asked to stop without waiting (a ``request_stop`` method) are
        all asked first, so their shutdowns overlap instead of adding up; then each is
        stopped and waited for.
        """
        servers = list(self.running().values())
        for server in servers:
            request_stop = getattr(server, "request_stop", None)
            if request_stop is not None:
                request_stop()
        for server in servers:
            server.stop()
