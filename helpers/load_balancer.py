"""Horizontal scaling on one machine: worker processes behind a round-robin load balancer.

- :class:`WorkerPool` starts ``n`` worker processes, each an HTTP server on its own free
  port on 127.0.0.1 answering ``GET /primes/<limit>`` with CPU-bound work
  (:func:`helpers.workloads.count_primes`) and an ``X-Worker`` header naming the process;
- :class:`RoundRobinBalancer` is an HTTP server on 127.0.0.1 that forwards each request to
  the next backend in turn (what nginx's ``upstream`` or HAProxy's ``balance roundrobin``
  do), and counts how many each got;
- :func:`run_load` sends a fixed number of requests from a few client threads and
  returns the elapsed time and the status codes.

A worker is one process, so its Python code uses one core at a time (the GIL); more
processes use more cores, up to the number the machine has. The balancer and the clients
run in the caller's process. Everything stops at interpreter exit.
"""

from __future__ import annotations

import atexit
import http.client
import itertools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["RoundRobinBalancer", "WorkerPool", "run_load", "stop_all"]

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"

_CHILD = """
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from helpers.workloads import count_primes

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(count_primes(int(self.path.rsplit("/", 1)[-1]))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Worker", str(os.getpid()))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    request_queue_size = 128  # BACKLOG below: socketserver's 5 drops bursts (1 s retries)

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

#: Connections a server lets wait to be accepted. socketserver's default, 5, is too few for a
#: burst of 8 clients at a worker busy computing: the kernel drops the connection attempts past
#: it and the clients retry only after 1 s (TCP's SYN timeout), which made a one-worker run look
#: up to 10x slower than it is.
BACKLOG = 128

_running: list[WorkerPool | RoundRobinBalancer] = []


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


class WorkerPool:
    """``n`` worker processes; ``ports`` lists where they listen."""

    def __init__(self, n: int, timeout: float = 20.0) -> None:
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.processes = [
            subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True,
                             env=env, cwd=REPO)
            for _ in range(n)
        ]
        _running.append(self)
        self.ports: list[int] = []
        deadline = time.monotonic() + timeout
        for process in self.processes:  # they started in parallel; collect their ports
            line = process.stdout.readline() if process.stdout else ""
            if not line.strip().isdigit() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("a worker process did not start")
            self.ports.append(int(line))

    def stop(self) -> None:
        """Stop every worker process. Safe to call twice."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        if self in _running:
            _running.remove(self)


class RoundRobinBalancer:
    """Forwards ``GET`` requests to ``backends`` (ports on 127.0.0.1) in turn."""

    def __init__(self, backends: list[int]) -> None:
        self.counts: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.use(backends)
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                port = balancer._next()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                try:
                    conn.request("GET", self.path)
                    response = conn.getresponse()
                    body = response.read()
                    self.send_response(response.status)
                    for name in ("Content-Type", "X-Worker"):
                        if response.getheader(name):
                            self.send_header(name, response.getheader(name))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.send_error(502, "bad gateway: the backend did not answer")
                finally:
                    conn.close()

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        _running.append(self)

    def use(self, backends: list[int]) -> None:
        """Balance over ``backends`` from now on, starting again at the first, with fresh counts."""
        with self._lock:
            self._cycle = itertools.cycle(list(backends))
            self.counts = Counter()

    def _next(self) -> int:
        with self._lock:
            port = next(self._cycle)
            self.counts[port] += 1
            return port

    def stop(self) -> None:
        """Stop the balancer. Safe to call twice."""
        if self in _running:
            self._server.shutdown()
            self._server.server_close()
            _running.remove(self)


def run_load(url: str, requests: int, concurrency: int) -> tuple[float, list[int]]:
    """Send ``requests`` GETs to ``url`` from ``concurrency`` threads; ``(seconds, statuses)``."""
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    path = "/" + parts[3]

    def one(_: int) -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        statuses = list(pool.map(one, range(requests)))
    return time.perf_counter() - start, statuses


def stop_all() -> None:
    """Stop every pool and balancer this module started."""
    for item in list(_running):
        item.stop()


atexit.register(stop_all)
