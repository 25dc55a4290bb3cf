"""Run an ASGI app (Starlette, a Strawberry GraphQL app) with uvicorn on 127.0.0.1 in the background.

The notebook kernel already runs an asyncio event loop, so ``uvicorn.run()`` (which
starts its own loop and blocks) and ``asyncio.run()`` fail in a cell. :func:`serve_asgi`
runs uvicorn's server in a daemon thread with an event loop of its own, on a socket
bound to a free port, waits until it answers, and returns an :class:`AsgiServer`::

    from helpers.asgi_server import serve_asgi
    server = serve_asgi(app, "chat")        # e.g. http://127.0.0.1:54321
    requests.get(server.url + "/hello")     # ws:// URLs: server.ws_url + "/ws"
    server.stop()

Like :mod:`helpers.servers`, servers are kept in a registry by name: starting one under
a name that is already running stops the old one first, so re-running a cell never
leaks a port or a thread. All servers stop at interpreter exit. uvicorn logs nothing
(no access log, no start-up banner on stderr): nbval compares stderr, and nbgrader
zeroes a test cell that writes to it. An exception raised by the app is recorded and
re-raised in the notebook by :meth:`AsgiServer.check`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
import time
from typing import Any

import uvicorn

from helpers.registry import ServerRegistry

__all__ = ["AsgiServer", "AsgiServerError", "running", "serve_asgi", "stop_all"]

HOST = "127.0.0.1"
#: Answered by the wrapper itself, so the readiness probe never reaches the app.
READY_PATH = "/__helpers_ready__"

_servers: ServerRegistry[AsgiServer] = ServerRegistry()


class AsgiServerError(RuntimeError):
    """An exception raised inside a background ASGI server, re-raised in the caller's thread."""


class _QuietServer(uvicorn.Server):
    """uvicorn's server without signal handlers (only the main thread may install them);
    ``started_event`` is set once its start-up has run (whether it succeeded or not)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.started_event = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:  # also on failure: AsgiServer.start then looks at what went wrong
            self.started_event.set()

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    def capture_signals(self):  # uvicorn >= 0.29 (a context manager)
        return contextlib.nullcontext()

    def wake(self) -> None:
        """Have :meth:`main_loop` look at ``should_exit`` now (callable from any thread)."""
        loop, woken = getattr(self, "_loop", None), getattr(self, "_woken", None)
        if loop is not None and woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(woken.set)

    async def main_loop(self) -> None:
        """uvicorn's loop (``on_tick`` every 0.1 s), but a :meth:`wake` ends the wait at once,
        so a stop is not up to 0.1 s of polling late."""
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._woken.wait(), 0.1)
            self._woken.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown; when forced, its fixed 0.1 s wait for connections to finish
        ends as soon as none is left (still at most 0.1 s)."""
        if not self.force_exit:
            return await super().shutdown(sockets)
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + 0.1
        while self.server_state.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        try:  # as uvicorn does (forced: it does not wait for connections or tasks)
            await asyncio.wait_for(self._wait_tasks_to_complete(), self.config.timeout_graceful_shutdown)
        except asyncio.TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        return None


class AsgiServer:
    """An ASGI app served by uvicorn from a daemon thread. Create it with :func:`serve_asgi`."""

    def __init__(self, app: Any, name: str) -> None:
        self.name = name
        self.app = app
        self.errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        # HTTP requests the app is still handling: Starlette sends its 500 response before the
        # error reaches _wrapped, so check() waits for them instead of missing that error.
        self._in_flight = 0
        self._idle = threading.Condition(self._errors_lock)
        # Bind the socket here, so the port is known (and ours) before the thread starts.
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say TCP, and
        # without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.ws_url = f"ws://{HOST}:{self.port}"
        config = uvicorn.Config(
            self._wrapped,
            log_config=None,  # do not touch the logging module's configuration
            log_level="critical",
            access_log=False,
            lifespan="off",
            interface="asgi3",  # a bound method is not detected as ASGI 3 by "auto"
            ws="websockets-sansio",
            ws_ping_interval=None,  # pings are shown explicitly in the notebook
            timeout_graceful_shutdown=1,
        )
        self._server = _QuietServer(config)
        self._thread = threading.Thread(target=self._run, name=f"asgi-{name}", daemon=True)
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> AsgiServer:
        """Start serving and return once the server answers an HTTP request."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        # Woken as soon as uvicorn's start-up has run, not at the next 20 ms poll (pairs of
        # servers are started by the dozen in a graded notebook); the loop below still polls
        # if it does not answer then, and it alone decides success or failure.
        while (not self._server.started_event.wait(0.05) and self._thread.is_alive()
               and time.monotonic() < deadline):
            pass
        while not self._answers():
            try:
                self.check()
            except AsgiServerError:
                self.stop()
                raise
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise AsgiServerError(f"server {self.name!r} did not answer within {timeout} s")
            time.sleep(0.02)
        return self

    def _answers(self) -> bool:
        if not self._server.started:
            return False
        conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
        try:
            conn.request("GET", READY_PATH)
            return conn.getresponse().status == 204
        except OSError:
            return False
        finally:
            conn.close()

    def request_stop(self) -> None:
        """Ask uvicorn to exit, without waiting: :meth:`stop` waits (``stop_all`` asks every
        server first, so their shutdowns, each at least 0.1 s of uvicorn's polling, overlap)."""
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for open WebSockets or streams
        self._server.wake()

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for its thread and release the port. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()
        _servers.forget(self.name, self)

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        return self._thread.is_alive() and not self._stopped

    def check(self, timeout: float = 2.0) -> None:
        """Re-raise the first error the app or the server thread raised, if any (then clear it).

        Waits up to ``timeout`` seconds for HTTP requests still in the app, so the error of a
        request whose 500 response has already arrived is never missed.
        """
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)
            if not self.errors:
                return
            error = self.errors.pop(0)
        raise AsgiServerError(f"server {self.name!r} raised {type(error).__name__}: {error}") from error

    def __enter__(self) -> AsgiServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<AsgiServer {self.name!r} {'running' if self.running else 'stopped'}>"

    # -- internals -----------------------------------------------------------------

    def _record(self, error: BaseException) -> None:
        with self._errors_lock:
            self.errors.append(error)

    def _run(self) -> None:
        # A fresh event loop in this thread: the kernel's loop belongs to the kernel.
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # the thread would die silently otherwise
            self._record(exc)

    async def _wrapped(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == READY_PATH:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        http = scope["type"] == "http"  # a WebSocket may stay open: check() does not wait for it
        if http:
            with self._idle:
                self._in_flight += 1
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            # Recorded for check(); not re-raised, or uvicorn would log it to stderr.
            self._record(exc)
        finally:
            if http:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()


def serve_asgi(app: Any, name: str | None = None, *, timeout: float = 5.0) -> AsgiServer:
    """Serve the ASGI ``app`` on a free port of 127.0.0.1 from a background thread.

    ``name`` keys the registry (default: the app's class name); a server already running
    under that name is stopped first, which makes re-running a notebook cell safe.
    Returns once the server answers.
    """
    name = name or type(app).__name__
    server = _servers.replace(name, lambda: AsgiServer(app, name))
    return server.start(timeout=timeout)


def running() -> dict[str, AsgiServer]:
    """The servers started by :func:`serve_asgi` that are still registered, by name."""
    return _servers.running()


def stop_all() -> None:
    """Stop every server started by :func:`serve_asgi` (also runs at interpreter exit)."""
    _servers.stop_all()
