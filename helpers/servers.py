"""Run a WSGI app (Flask, httpbin, a bare function) on 127.0.0.1 in the background.

A notebook cell must not block, so ``app.run()`` is out. :func:`serve` starts
werkzeug's threaded server in a daemon thread on a free port, waits until it
answers, and returns a :class:`BackgroundServer` with the base URL::

    from helpers.servers import serve
    server = serve(app)             # e.g. http://127.0.0.1:54321
    requests.get(server.url + "/hello")
    server.stop()

Re-running the same cell is safe: servers are kept in a registry by name (the
Flask app's name by default), and starting a server under a name that is
already running stops the old one first, so ports are never leaked and there
is never an "address already in use". All servers stop at interpreter exit.

Errors are not lost: an exception raised by the app while handling a request
(the client sees a 500) or by the server thread itself is recorded, and
:meth:`BackgroundServer.check` re-raises it in the notebook.

The server writes nothing to stderr (no request log lines): nbval compares
stderr, and nbgrader zeroes a test cell that writes to it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from helpers.registry import ServerRegistry

__all__ = ["BackgroundServer", "ServerError", "running", "serve", "stop_all"]

HOST = "127.0.0.1"
#: Path answered by the server wrapper itself, so the readiness probe never reaches the app.
READY_PATH = "/__helpers_ready__"

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

_servers: ServerRegistry[BackgroundServer] = ServerRegistry()


class ServerError(RuntimeError):
    """An exception raised inside a background server, re-raised in the caller's thread."""


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request log line on stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (werkzeug's name)
        pass


class _QuietServer(ThreadedWSGIServer):
    """Werkzeug's threaded server; errors are recorded by the wrapper, not printed."""

    daemon_threads = True

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is not the app's fault; stay silent.
        pass


class BackgroundServer:
    """A WSGI app served on 127.0.0.1 from a daemon thread. Create it with :func:`serve`."""

    def __init__(
        self, app: WSGIApp, name: str, port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.name = name
        self.app = app
        self.errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._watch_flask_errors(app)
        self._server = _QuietServer(
            HOST, port, self._wrapped, handler=_QuietRequestHandler, ssl_context=ssl_context
        )
        self.port: int = self._server.server_port
        self.tls = ssl_context is not None
        self.url = f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"
        self._thread = threading.Thread(
            target=self._serve_forever, name=f"server-{name}", daemon=True
        )
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> BackgroundServer:
        """Start serving and return once the server answers an HTTP request."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.check()
            except ServerError:
                self.stop()
                raise
            if self._answers():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"server {self.name!r} did not answer within {timeout} s")
            time.sleep(0.02)

    def _answers(self) -> bool:
        if self.tls:
            # The probe does not know which CA to trust, and must not skip verification;
            # an accepting socket on a live serving thread is ready enough.
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
            except OSError:
                return False
            return self._thread.is_alive()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
        try:
            conn.request("GET", READY_PATH)
            return conn.getresponse().status == 204
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        _servers.forget(self.name, self)

    @property
    def running(self) -> bool:
        """True while the server thread is serving."""
        return self._thread.is_alive() and not self._stopped

    def check(self) -> None:
        """Re-raise the first error the app or the server thread has raised, if any.

        The error is cleared, so a fixed app can be checked again.
        """
        with self._errors_lock:
            if not self.errors:
                return
            error = self.errors.pop(0)
        raise ServerError(
            f"server {self.name!r} raised {type(error).__name__}: {error}"
        ) from error

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.name!r} {state}>"

    # -- internals -----------------------------------------------------------------

    def _record(self, error: BaseException) -> None:
        with self._errors_lock:
            self.errors.append(error)

    def _serve_forever(self) -> None:
        try:
            # stop() waits for the loop to notice the shutdown request, up to poll_interval:
            # 10 ms keeps a stop quick (a notebook stops many servers) at ~0.2 % of a core idle.
            self._server.serve_forever(poll_interval=0.01)
        except BaseException as exc:  # the thread would die silently otherwise
            self._record(exc)

    def _wrapped(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == READY_PATH:
            start_response("204 No Content", [])
            return []
        try:
            return self.app(environ, start_response)
        except Exception as exc:
            self._record(exc)
            raise  # werkzeug answers 500

    def _watch_flask_errors(self, app: Any) -> None:
        """Flask turns exceptions into 500s itself; listen for them so check() sees them."""
        try:
            from flask import Flask, got_request_exception
        except ImportError:  # pragma: no cover - flask is a dependency
            return
        if isinstance(app, Flask):

            def on_exception(sender: Any, exception: BaseException, **extra: Any) -> None:
                self._record(exception)

            self._on_flask_exception = on_exception  # blinker holds receivers weakly
            got_request_exception.connect(on_exception, app)
            # Flask logs unhandled exceptions to stderr; they are recorded instead.
            app.log_exception = lambda exc_info: None


def _default_name(app: Any) -> str:
    return str(getattr(app, "name", None) or getattr(app, "__name__", None) or type(app).__name__)


def serve(
    app: WSGIApp,
    name: str | None = None,
    *,
    port: int = 0,
    timeout: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
) -> BackgroundServer:
    """Serve ``app`` on 127.0.0.1 in a background thread and return the running server.

    ``name`` keys the registry (default: the Flask app's name, else the function
    name); a server already running under that name is stopped first, which is
    what makes re-running a notebook cell safe. ``port=0`` picks a free port.
    ``ssl_context`` (a server-side :class:`ssl.SSLContext` with a certificate loaded)
    serves HTTPS instead. Returns once the server answers.
    """
    name = name or _default_name(app)
    server = _servers.replace(name, lambda: BackgroundServer(app, name, port=port, ssl_context=ssl_context))
    return server.start(timeout=timeout)


def running() -> dict[str, BackgroundServer]:
    """The servers started by :func:`serve` that are still registered, by name."""
    return _servers.running()


def stop_all() -> None:
    """Stop every server started by :func:`serve` (also runs at interpreter exit)."""
    _servers.stop_all()
