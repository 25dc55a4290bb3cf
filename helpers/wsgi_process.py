"""Run a WSGI app under a production server (gunicorn or waitress) in a subprocess.

Step 06 serves the mini API the way production does: a separate server process
with several workers, not werkzeug's development server. :func:`start_wsgi`
starts it on a free 127.0.0.1 port, waits until it answers, and returns a
:class:`WSGIProcess`::

    from helpers.wsgi_process import start_wsgi
    proc = start_wsgi("helpers.mini_api:create_app()", workers=2, env={"DATABASE_URL": url})
    requests.get(proc.url + "/healthz")
    proc.stop()          # SIGTERM: finish in-flight requests, then exit

gunicorn runs on POSIX only; waitress (threads in one process) runs everywhere and
is the fallback (``server="auto"`` picks gunicorn when it can). ``server="development"``
runs werkzeug's development server (``flask run``) the same way, for comparison. The server's own
output goes to a log file (:attr:`WSGIProcess.log_text`), never to the notebook's
stderr. Every process still running is stopped at interpreter exit.
"""

from __future__ import annotations

import atexit
import http.client
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["WSGIProcess", "WSGIProcessError", "available_servers", "running", "start_wsgi", "stop_all"]

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
_running: list[WSGIProcess] = []


class WSGIProcessError(RuntimeError):
    """The server did not start or did not stop; the message includes its log."""


def available_servers() -> list[str]:
    """The production WSGI servers usable here, preferred first (``gunicorn`` needs POSIX)."""
    found = []
    if os.name == "posix" and importlib.util.find_spec("gunicorn"):
        found.append("gunicorn")
    if importlib.util.find_spec("waitress"):
        found.append("waitress")
    return found


def _usable(server: str) -> bool:
    return server == "development" or server in available_servers()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _command(
    server: str, app_spec: str, port: int, workers: int, threads: int, graceful: float
) -> list[str]:
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(workers),
                "--threads", str(threads), "--graceful-timeout", str(int(graceful)), "--timeout", "30",
                "--log-level", "warning", app_spec]
    if server == "development":  # werkzeug's threaded development server, for comparison only
        return [sys.executable, "-m", "flask", "--app", app_spec, "run", "--host", HOST, "--port", str(port),
                "--no-reload", "--no-debugger", "--with-threads"]
    if server == "waitress":
        module, _, factory = app_spec.partition(":")
        call = factory.endswith("()")
        target = f"{module}:{factory[:-2] if call else factory}"
        return [sys.executable, "-m", "waitress", f"--listen={HOST}:{port}", f"--threads={workers * threads}",
                *(["--call"] if call else []), target]
    raise ValueError(f"unknown server {server!r}: use 'gunicorn', 'waitress', 'development' or 'auto'")


class WSGIProcess:
    """A WSGI server subprocess on 127.0.0.1. Create it with :func:`start_wsgi`."""

    def __init__(
        self, server: str, command: list[str], port: int, env: Mapping[str, str], workers: int,
        graceful_timeout: float = 10.0,
    ) -> None:
        self.server = server
        self.graceful_timeout = graceful_timeout
        self.port = port
        self.workers = workers
        self.url = f"http://{HOST}:{port}"
        self._log = tempfile.NamedTemporaryFile(prefix=f"{server}-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self._final_log: str | None = None
        self._stop_requested = False
        self.process = subprocess.Popen(
            command, cwd=REPO, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid
        _running.append(self)

    @property
    def running(self) -> bool:
        """True while the server process has not exited."""
        return self.process.poll() is None

    @property
    def log_text(self) -> str:
        """What the server wrote to its stdout and stderr so far (kept after :meth:`stop`)."""
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, path: str, timeout: float) -> None:
        """Return once ``GET path`` gets any HTTP answer; raise WSGIProcessError otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                self.stop()
                raise WSGIProcessError(
                    f"{self.server} exited with code {self.process.returncode}:\n{self.log_text}"
                )
            conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.02)  # refused at once while the server starts: cheap to ask often
            finally:
                conn.close()
        self.stop()
        raise WSGIProcessError(f"{self.server} did not answer {path} within {timeout} s:\n{self.log_text}")

    def wait_for_log(self, text: str, timeout: float = 10.0, since: int = 0) -> str:
        """Wait until a line of the server's log contains ``text``, and return that line.

        Lets a demo act on an event inside the server (a request has arrived)
        instead of guessing with a sleep. ``since`` skips what was logged before
        (pass ``len(proc.log_text)`` taken earlier), so a server used twice does not
        match the first time's line. Raises WSGIProcessError on timeout or exit.
        """
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text[since:]
            found = log.find(text)
            if found >= 0 and log.find("\n", found) >= 0:  # a whole line, not half a write
                start = log.rfind("\n", 0, found) + 1
                return log[start:log.index("\n", found)]
            if not self.running or time.monotonic() > deadline:
                raise WSGIProcessError(f"{text!r} did not appear in the {self.server} log:\n{self.log_text}")
            time.sleep(0.02)

    def request_stop(self) -> None:
        """Send SIGTERM once, without waiting (:meth:`stop` waits): several servers then drain at once."""
        if self.running and not self._stop_requested:
            self._stop_requested = True
            self.process.terminate()  # SIGTERM on POSIX, TerminateProcess on Windows

    def stop(self, timeout: float | None = None) -> int:
        """Stop gracefully (SIGTERM: in-flight requests finish); kill after ``timeout`` s.

        By default the wait outlasts the server's own graceful timeout by 5 s, as a
        Kubernetes grace period must: a supervisor that kills first cuts requests short.
        Returns the exit code (negative: the signal that ended it, on POSIX).
        """
        if timeout is None:
            timeout = self.graceful_timeout + 5
        if self.running:
            self.request_stop()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
        if self._final_log is None:
            self._final_log = self.log_text
            self.log_path.unlink(missing_ok=True)  # the text is kept in memory; no file is left behind
        if self in _running:
            _running.remove(self)
        return self.process.returncode

    def worker_pids(self) -> list[int]:
        """PIDs of the server's child processes (gunicorn's workers). Linux only; [] elsewhere."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def __enter__(self) -> WSGIProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited ({self.process.returncode})"
        return f"<WSGIProcess {self.server} x{self.workers} {state}>"


def start_wsgi(
    app_spec: str,
    *,
    workers: int = 2,
    threads: int = 1,
    server: str = "auto",
    env: Mapping[str, str] | None = None,
    ready_path: str = "/healthz",
    timeout: float = 20.0,
    graceful_timeout: int = 10,
) -> WSGIProcess:
    """Start ``app_spec`` (``"package.module:create_app()"`` or ``"module:app"``) and wait until it answers.

    ``server`` is ``"gunicorn"``, ``"waitress"``, ``"development"`` or ``"auto"``.
    ``workers`` processes (gunicorn) each with ``threads`` threads; waitress, a single
    process, gets ``workers * threads`` threads; the development server ignores both
    (one process, a thread per request). ``env`` is added to this process's
    environment (configuration, twelve-factor style). Raises WSGIProcessError with the
    server's log if it exits or does not answer ``ready_path`` within ``timeout`` s.
    """
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be at least 1, got {workers} and {threads}")
    servers = available_servers()
    if server == "auto":
        if not servers:
            raise WSGIProcessError("no WSGI server installed: pip install waitress (or gunicorn on POSIX)")
        server = servers[0]
    elif not _usable(server):
        raise WSGIProcessError(f"{server!r} is not usable here; available: {servers + ['development']}")
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    full_env["PYTHONUNBUFFERED"] = "1"
    port = _free_port()
    proc = WSGIProcess(server, _command(server, app_spec, port, workers, threads, graceful_timeout),
                       port, full_env, workers, graceful_timeout)
    proc.wait_ready(ready_path, timeout)
    return proc


def running() -> list[WSGIProcess]:
    """The server processes started here that have not been stopped."""
    return [p for p in _running if p.running]


def stop_all() -> None:
    """Stop every server started by :func:`start_wsgi` (also runs at interpreter exit).

    Every server gets SIGTERM first, so their graceful shutdowns overlap; then each is
    waited for (and killed after 5 s).
    """
    procs = list(_running)
    for proc in procs:
        proc.request_stop()
    for proc in procs:
        proc.stop(timeout=5)


atexit.register(stop_all)
