"""helpers.http_wire: the raw-socket client and the demo WSGI apps, over real sockets."""

from __future__ import annotations

import pytest
import requests

from helpers.http_wire import (
    CachingApp,
    ConnectionCounter,
    CorsApp,
    FlakyApp,
    VirtualHosts,
    chunked_app,
    negotiation_app,
    raw_request,
)
from helpers.servers import serve

CLOSE = b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"


def test_raw_request_reads_the_whole_response():
    server = serve(CachingApp(), name="caching")
    raw = raw_request(server.port, b"GET /article HTTP/1.1\r\n" + CLOSE)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: %d" % len(body) in head


def test_raw_request_wants_bytes():
    with pytest.raises(TypeError, match="bytes"):
        raw_request(1, "GET / HTTP/1.1\r\n\r\n")


def test_caching_app_answers_if_none_match_with_304():
    app = CachingApp()
    server = serve(app, name="caching")
    first = requests.get(server.url + "/article", timeout=5)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.headers["Cache-Control"] == "max-age=60"
    again = requests.get(server.url + "/article", headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.content == b""
    requests.put(server.url + "/article", json={"id": 1, "title": "new"}, timeout=5)
    changed = requests.get(server.url + "/article", headers={"If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200 and changed.json()["title"] == "new"
    assert app.stats == {"200": 2, "304": 1}
    assert requests.get(server.url + "/nope", timeout=5).status_code == 404
    assert requests.post(server.url + "/article", timeout=5).status_code == 405


def test_cors_preflight_only_for_trusted_origins():
    server = serve(CorsApp(["https://app.example"]), name="cors")
    preflight = {"Access-Control-Request-Method": "PUT"}
    ok = requests.options(server.url + "/api/data", timeout=5,
                          headers={"Origin": "https://app.example", **preflight})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    evil = requests.options(server.url + "/api/data", timeout=5,
                            headers={"Origin": "https://evil.example", **preflight})
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers
    simple = requests.get(server.url + "/api/data", headers={"Origin": "https://evil.example"}, timeout=5)
    assert simple.status_code == 200 and "Access-Control-Allow-Origin" not in simple.headers


def test_flaky_app_fails_then_succeeds_and_counts():
    app = FlakyApp(failures=2)
    server = serve(app, name="flaky")
    codes = [requests.get(server.url, timeout=5).status_code for _ in range(3)]
    assert codes == [503, 503, 200] and app.attempts == 3
    app.reset(1, status="500 Internal Server Error")
    assert requests.get(server.url, timeout=5).status_code == 500
    assert requests.get(server.url, timeout=5).json() == {"attempt": 2}
    with pytest.raises(ValueError, match="0 or more"):
        app.reset(-1)


def test_chunked_app_uses_chunked_transfer_encoding():
    server = serve(chunked_app, name="chunked")
    raw = raw_request(server.port, b"GET / HTTP/1.1\r\n" + CLOSE)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert body.startswith(b"7\r\nline 1\n\r\n") and body.endswith(b"0\r\n\r\n")


@pytest.mark.parametrize(("accept", "status", "media_type"), [
    ("application/json", 200, "application/json"),
    ("text/csv", 200, "text/csv"),
    ("text/html, */*;q=0.1", 200, "application/json"),
    ("image/png", 406, "application/json"),
])
def test_negotiation_app(accept, status, media_type):
    server = serve(negotiation_app, name="negotiation")
    response = requests.get(server.url + "/users", headers={"Accept": accept}, timeout=5)
    assert response.status_code == status
    assert response.headers["Content-Type"] == media_type


def test_connection_counter_sees_session_reuse():
    with ConnectionCounter() as counter:
        for _ in range(3):
            assert requests.get(counter.url, timeout=5).text == "ok"
        assert counter.connections == 3
        counter.reset()
        with requests.Session() as session:
            for _ in range(3):
                session.get(counter.url, timeout=5)
        assert counter.connections == 1


def test_virtual_hosts_pick_the_site_by_host_header():
    """One address and port, two sites: Host chooses; an unknown host is 421, no Host is 400."""
    server = serve(VirtualHosts({"blog.course.test": "the blog", "Shop.Course.Test.": "the shop"}),
                   name="virtual-hosts")

    def get(host_line: bytes, version: bytes = b"HTTP/1.1") -> bytes:
        request = b"GET / " + version + b"\r\n" + host_line + b"Connection: close\r\n\r\n"
        return raw_request(server.port, request)

    blog = get(b"Host: blog.course.test:%d\r\n" % server.port)
    assert blog.startswith(b"HTTP/1.1 200 OK") and blog.endswith(b"\r\n\r\nthe blog")
    assert get(b"Host: SHOP.course.test.\r\n").endswith(b"\r\n\r\nthe shop")
    assert get(b"Host: 127.0.0.1:%d\r\n" % server.port).startswith(b"HTTP/1.1 421 ")
    assert get(b"", version=b"HTTP/1.0").startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize(("header", "name"), [
    ("blog.course.test", "blog.course.test"), ("Blog.Course.Test.:8080", "blog.course.test"),
    ("[::1]:8080", "[::1]"), ("127.0.0.1:80", "127.0.0.1"),
])
def test_virtual_hosts_host_name(header, name):
    assert VirtualHosts.host_name(header) == name
