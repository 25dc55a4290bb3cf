"""A tiny caching reverse proxy: what a CDN edge (or Varnish, or nginx's proxy_cache) does.

:class:`CachingProxy` is a WSGI app that forwards requests to an origin server on
127.0.0.1 and keeps shared-cache copies of responses, following HTTP caching (RFC 9111)
in its simplest honest form:

- only ``GET`` responses with status 200 are stored (a ``HEAD`` may be answered from
  them), and only when the origin says for how long: ``s-maxage`` (for shared caches)
  or else ``max-age``; no header, no caching (no heuristic freshness);
- ``no-store`` and ``private`` are never stored; neither is a response to a request with
  ``Authorization`` unless it says ``public`` or ``s-maxage``; ``Vary: *`` is never stored;
- ``Vary: Accept-Language`` keeps one copy per value of that request header;
- every answer says ``X-Cache: HIT``, ``MISS`` (stored now) or ``PASS`` (not storable),
  and a hit carries ``Age``;
- ``PURGE /path`` drops every copy of that path (CDNs offer this as an API); an unsafe
  method (POST, PUT, DELETE) through the proxy also invalidates the path.

Time comes from ``clock`` (a :class:`helpers.scale_lab.FakeClock` in the notebook), so
expiry can be shown without sleeping.
"""

from __future__ import annotations

import http.client
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["CachingProxy", "cache_directives"]

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


def cache_directives(value: str | None) -> dict[str, str | None]:
    """``"public, max-age=60"`` -> ``{"public": None, "max-age": "60"}`` (names lower-cased)."""
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            directives[name.lower()] = arg.strip('"') if arg else None
    return directives


@dataclass
class _Entry:
    vary: dict[str, str]  # request header name -> the value it had
    stored_at: float
    ttl: float
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class CachingProxy:
    """A shared cache in front of ``origin`` (e.g. ``"http://127.0.0.1:8000"``); see the module doc."""

    def __init__(self, origin: str, clock: Callable[[], float] = time.monotonic) -> None:
        parts = urlsplit(origin)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.clock = clock
        self.store: dict[str, list[_Entry]] = {}
        self.stats: Counter[str] = Counter()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING")
        target = environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")
        request_headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):  # WSGI keeps these two outside HTTP_*
            request_headers["Content-Type"] = environ["CONTENT_TYPE"]
        if method == "PURGE":
            dropped = len(self.store.pop(target, []))
            self.stats["PURGE"] += 1
            body = f"purged {dropped} cached copies of {target}\n".encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if method in ("GET", "HEAD"):
            entry = self._lookup(target, request_headers)
            if entry is not None:
                self.stats["HIT"] += 1
                age = int(self.clock() - entry.stored_at)
                chunks = self._answer(start_response, entry.status, entry.headers, entry.body, "HIT", age)
                return [] if method == "HEAD" else chunks
        else:
            self.store.pop(target, None)  # an unsafe method may change what the path returns
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body_in = environ["wsgi.input"].read(length) if length else None
        status, headers, body = self._forward(method, target, request_headers, body_in)
        how = "PASS"
        if method == "GET" and status.startswith("200 "):  # a HEAD answer has no body to reuse
            ttl, vary = self._storable(headers, request_headers)
            if ttl is not None:
                self.store.setdefault(target, [])
                self.store[target] = [e for e in self.store[target] if e.vary != vary]
                self.store[target].append(_Entry(vary, self.clock(), ttl, status, headers, body))
                how = "MISS"
        self.stats[how] += 1
        return self._answer(start_response, status, headers, body, how)

    # -- internals -------------------------------------------------------------------------

    def _lookup(self, target: str, request_headers: dict[str, str]) -> _Entry | None:
        now = self.clock()
        for entry in self.store.get(target, []):
            fresh = now - entry.stored_at < entry.ttl
            matches = all(request_headers.get(name, "") == value for name, value in entry.vary.items())
            if fresh and matches:
                return entry
        return None

    def _storable(self, headers: list[tuple[str, str]], request_headers: dict[str, str]
                  ) -> tuple[float | None, dict[str, str]]:
        """``(ttl, vary)``: how long the response may be stored (None: not at all), and its Vary key."""
        by_name = {name.lower(): value for name, value in headers}
        cc = cache_directives(by_name.get("cache-control"))
        if "no-store" in cc or "private" in cc:
            return None, {}
        if "Authorization" in request_headers and not ("public" in cc or "s-maxage" in cc):
            return None, {}
        vary_names = [v.strip().title() for v in by_name.get("vary", "").split(",") if v.strip()]
        if "*" in vary_names:
            return None, {}
        lifetime = cc.get("s-maxage") or cc.get("max-age")
        if lifetime is None or not lifetime.isdigit() or int(lifetime) == 0:
            return None, {}
        return float(lifetime), {name: request_headers.get(name, "") for name in vary_names}

    def _forward(self, method: str, target: str, request_headers: dict[str, str], body: bytes | None
                 ) -> tuple[str, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in request_headers.items() if k.lower() not in HOP_BY_HOP and k != "Host"}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders()
                    if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "date", "server")]
            return f"{response.status} {response.reason}", kept, data
        finally:
            conn.close()

    @staticmethod
    def _answer(start_response: Callable, status: str, headers: list[tuple[str, str]], body: bytes, how: str,
                age: int | None = None) -> list[bytes]:
        out = [*headers, ("Content-Length", str(len(body))), ("X-Cache", how)]
        if age is not None:
            out.append(("Age", str(age)))
        start_response(status, out)
        return [body]
