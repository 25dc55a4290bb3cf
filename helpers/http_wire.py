"""HTTP on the wire: a raw-socket client and small demo WSGI apps for step 02.

Each app is a plain WSGI callable (no framework), so the whole HTTP exchange is in
view: the status line, the headers and the body bytes. Serve any of them with
:func:`helpers.servers.serve`::

    from helpers.http_wire import CachingApp, raw_request
    from helpers.servers import serve
    server = serve(CachingApp(), name="caching")
    print(raw_request(server.port, b"GET /article HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n"))
    server.stop()

- :func:`raw_request` writes bytes to a socket and reads every byte of the answer.
- :class:`CachingApp` serves a resource with an ``ETag`` and answers ``If-None-Match``
  with ``304 Not Modified``.
- :class:`CorsApp` answers CORS preflights for the origins it trusts.
- :class:`FlakyApp` fails a set number of times, then succeeds (for retries).
- :func:`chunked_app` streams a body without ``Content-Length`` (chunked encoding).
- :func:`negotiation_app` picks JSON or CSV from the ``Accept`` header.
- :class:`VirtualHosts` serves several sites on one address and port, chosen by ``Host``.
- :class:`ConnectionCounter` is a tiny keep-alive server (standard library) that
  counts the TCP connections its clients opened. (werkzeug's development server,
  behind :func:`helpers.servers.serve`, closes every connection after one response.)
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = [
    "CachingApp",
    "ConnectionCounter",
    "CorsApp",
    "FlakyApp",
    "VirtualHosts",
    "chunked_app",
    "negotiation_app",
    "raw_request",
]

StartResponse = Callable[..., object]


def raw_request(port: int, request: bytes, host: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    """Send ``request`` (raw HTTP bytes) to ``host:port`` and return every byte of the reply.

    The reply is read until the server closes the connection, so the request should
    carry ``Connection: close``; otherwise an HTTP/1.1 server keeps the connection open
    and this waits ``timeout`` seconds for more.
    """
    if not isinstance(request, bytes):
        raise TypeError("request must be bytes, e.g. b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'")
    chunks = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def _json(start_response: StartResponse, status: str, payload: object,
          headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


def _empty(start_response: StartResponse, status: str,
           headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    start_response(status, [("Content-Length", "0"), *headers])
    return []


class CachingApp:
    """Serves ``GET /article`` with an ``ETag``; ``If-None-Match`` gets ``304 Not Modified``.

    ``PUT /article`` (a JSON body) replaces the article, which changes its ETag.
    ``stats`` counts the full (200) and not-modified (304) answers.
    """

    def __init__(self, article: dict | None = None, max_age: int = 60) -> None:
        self.article = article or {"id": 1, "title": "HTTP caching", "body": "ETags save bandwidth."}
        self.max_age = max_age
        self.stats = {"200": 0, "304": 0}
        self._lock = threading.Lock()

    def etag(self) -> str:
        """A strong validator: a hash of the representation, in double quotes."""
        body = json.dumps(self.article, sort_keys=True).encode()
        return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def __call__(self, environ: dict, start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] != "/article":
            return _json(start_response, "404 Not Found", {"error": "no such resource"})
        method = environ["REQUEST_METHOD"]
        if method == "PUT":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            with self._lock:
                self.article = json.loads(environ["wsgi.input"].read(length))
            return _empty(start_response, "204 No Content", [("ETag", self.etag())])
        if method not in ("GET", "HEAD"):
            return _json(start_response, "405 Method Not Allowed", {"error": "GET or PUT"},
                         [("Allow", "GET, HEAD, PUT")])
        etag = self.etag()
        caching = [("ETag", etag), ("Cache-Control", f"max-age={self.max_age}")]
        if etag in [tag.strip() for tag in environ.get("HTTP_IF_NONE_MATCH", "").split(",")]:
            with self._lock:
                self.stats["304"] += 1
            start_response("304 Not Modified", caching)
            return []
        with self._lock:
            self.stats["200"] += 1
        return _json(start_response, "200 OK", self.article, caching)


class CorsApp:
    """A JSON API at ``/api/data`` that lets browsers on ``allowed_origins`` call it.

    ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method`` is a CORS
    preflight: a trusted origin gets ``204`` with the ``Access-Control-Allow-*``
    headers, any other origin gets ``403`` and no such headers.
    """

    def __init__(self, allowed_origins: Iterable[str], max_age: int = 600) -> None:
        self.allowed_origins = set(allowed_origins)
        self.max_age = max_age

    def __call__(self, environ: dict, start_response: StartResponse) -> list[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        trusted = origin in self.allowed_origins
        # The answer depends on Origin, so shared caches must key on it.
        vary = [("Vary", "Origin")]
        if environ["REQUEST_METHOD"] == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            if not trusted:
                return _empty(start_response, "403 Forbidden", vary)
            return _empty(start_response, "204 No Content", [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE"),
                ("Access-Control-Allow-Headers", "Content-Type, Authorization"),
                ("Access-Control-Max-Age", str(self.max_age)),
                *vary,
            ])
        headers = [("Access-Control-Allow-Origin", origin)] if trusted else []
        return _json(start_response, "200 OK", {"data": [1, 2, 3]}, [*headers, *vary])


class FlakyApp:
    """Fails the first ``failures`` requests with ``status``, then answers 200.

    ``attempts`` counts every request. ``reset(failures)`` starts again. A ``delay``
    (seconds) makes every answer slow, for timeouts. The 200 answer is
    ``{"attempt": n}``.
    """

    def __init__(self, failures: int = 2, status: str = "503 Service Unavailable",
                 delay: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.reset(failures, status, delay)

    def reset(self, failures: int, status: str = "503 Service Unavailable", delay: float = 0.0) -> None:
        """Fail the next ``failures`` requests with ``status``; count attempts from zero."""
        if failures < 0:
            raise ValueError(f"failures must be 0 or more, got {failures}")
        with self._lock:
            self.failures = failures
            self.status = status
            self.delay = delay
            self.attempts = 0

    def __call__(self, environ: dict, start_response: StartResponse) -> list[bytes]:
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
            failing = attempt <= self.failures
        if self.delay:
            time.sleep(self.delay)
        if failing:
            return _json(start_response, self.status, {"error": "try again", "attempt": attempt})
        return _json(start_response, "200 OK", {"attempt": attempt})


def chunked_app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """Streams three lines without ``Content-Length``: HTTP/1.1 then frames them as chunks."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (f"line {n}\n".encode() for n in range(1, 4))


def negotiation_app(environ: dict, start_response: StartResponse) -> list[bytes]:
    """``/users`` as JSON or CSV, chosen from ``Accept``; anything else gets ``406``."""
    users = [{"id": 1, "name": "ada"}, {"id": 2, "name": "linus"}]
    accept = environ.get("HTTP_ACCEPT", "*/*")
    offered = [part.split(";")[0].strip() for part in accept.split(",")]
    for media_type in offered:
        if media_type in ("application/json", "application/*", "*/*"):
            return _json(start_response, "200 OK", users, [("Vary", "Accept")])
        if media_type in ("text/csv", "text/*"):
            body = "id,name\n" + "".join(f"{u['id']},{u['name']}\n" for u in users)
            data = body.encode()
            start_response("200 OK", [("Content-Type", "text/csv"), ("Vary", "Accept"),
                                      ("Content-Length", str(len(data)))])
            return [data]
    return _json(start_response, "406 Not Acceptable",
                 {"error": "available: application/json, text/csv"})


class VirtualHosts:
    """Name-based virtual hosting: one address and port, a site per host name, chosen by ``Host``.

    ``sites`` maps a host name (``"blog.course.test"``) to the text of its home page. The
    ``Host`` header is compared without its port, ignoring case and a final dot. A request
    without ``Host`` is a ``400`` (RFC 9112 requires one in HTTP/1.1); a host this server
    does not serve is ``421 Misdirected Request`` (RFC 9110, section 15.5.20), rather than
    some other site's page.
    """

    def __init__(self, sites: dict[str, str]) -> None:
        self.sites = {name.lower().rstrip("."): page for name, page in sites.items()}

    @staticmethod
    def host_name(host_header: str) -> str:
        """``"Blog.Course.Test.:8080"`` -> ``"blog.course.test"`` (no port, lower case, no final dot)."""
        name = host_header.strip().lower()
        if name.startswith("["):  # an IPv6 literal: [::1]:8080
            return name.split("]", 1)[0] + "]"
        return name.rsplit(":", 1)[0].rstrip(".") if ":" in name else name.rstrip(".")

    def __call__(self, environ: dict, start_response: StartResponse) -> list[bytes]:
        host = environ.get("HTTP_HOST")
        if not host:
            return _json(start_response, "400 Bad Request", {"error": "HTTP/1.1 requires a Host header"})
        page = self.sites.get(self.host_name(host))
        if page is None:
            return _json(start_response, "421 Misdirected Request", {"error": "no site for this host name"})
        body = page.encode()
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]


class _KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep the connection open between requests

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.client_ports.add(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib's name)
        pass  # no request log on stderr


class ConnectionCounter:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 that counts client connections.

    Every ``GET`` answers ``ok``; :attr:`connections` is the number of distinct TCP
    connections (client ports) seen so far. Use it as a context manager, or call
    :meth:`stop`.
    """

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveHandler)
        self._server.daemon_threads = True
        self._server.client_ports = set()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        """How many TCP connections clients have opened."""
        return len(self._server.client_ports)

    def reset(self) -> None:
        """Forget the connections counted so far."""
        self._server.client_ports.clear()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ConnectionCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
