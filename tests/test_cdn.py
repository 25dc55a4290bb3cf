"""helpers/cdn.py: the caching reverse proxy (CDN stand-in) against a local origin."""

import pytest
import requests
from flask import Flask, request

from helpers.cdn import CachingProxy, cache_directives
from helpers.scale_lab import FakeClock
from helpers.servers import serve


def make_origin():
    app = Flask("cdn-test-origin")
    app.hits = 0

    @app.before_request
    def count():
        app.hits += 1

    @app.get("/public")
    def public():
        return "p", 200, {"Cache-Control": "public, max-age=60"}

    @app.get("/shared")
    def shared():
        return "s", 200, {"Cache-Control": "max-age=5, s-maxage=30"}

    @app.get("/private")
    def private():
        return "me", 200, {"Cache-Control": "private, max-age=60"}

    @app.get("/nothing")
    def nothing():
        return "n"

    @app.get("/greeting")
    def greeting():
        lang = request.headers.get("Accept-Language", "en")
        headers = {"Cache-Control": "max-age=60", "Vary": "Accept-Language"}
        return ("bonjour" if lang == "fr" else "hello"), 200, headers

    @app.post("/echo")
    def echo():
        return {"type": request.content_type, "body": request.get_json()}

    @app.route("/public", methods=["POST"])
    def change():
        return "changed"

    return app


@pytest.fixture
def lab():
    origin_app = make_origin()
    clock = FakeClock()
    with serve(origin_app, name="cdn-test-origin") as origin:
        proxy = CachingProxy(origin.url, clock=clock)
        with serve(proxy, name="cdn-test-proxy") as edge:
            yield origin_app, proxy, edge.url, clock


def test_directives():
    parsed = cache_directives('Public, max-age="60", no-cache')
    assert parsed == {"public": None, "max-age": "60", "no-cache": None}
    assert cache_directives(None) == {}


def test_hit_miss_age_expiry(lab):
    origin, proxy, url, clock = lab
    first = requests.get(url + "/public", timeout=5)
    clock.advance(7)
    second = requests.get(url + "/public", timeout=5)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.headers["Age"] == "7" and second.text == "p"
    assert origin.hits == 1
    clock.advance(60)
    assert requests.get(url + "/public", timeout=5).headers["X-Cache"] == "MISS"
    assert origin.hits == 2


def test_s_maxage_wins_for_a_shared_cache(lab):
    origin, proxy, url, clock = lab
    requests.get(url + "/shared", timeout=5)
    clock.advance(10)
    assert requests.get(url + "/shared", timeout=5).headers["X-Cache"] == "HIT"


@pytest.mark.parametrize("path", ["/private", "/nothing"])
def test_not_stored(lab, path):
    origin, proxy, url, clock = lab
    assert [requests.get(url + path, timeout=5).headers["X-Cache"] for _ in range(2)] == ["PASS", "PASS"]
    assert origin.hits == 2


def test_authorization_not_shared_unless_public(lab):
    origin, proxy, url, clock = lab
    auth = {"Authorization": "Bearer t"}
    assert requests.get(url + "/greeting", headers=auth, timeout=5).headers["X-Cache"] == "PASS"
    assert requests.get(url + "/public", headers=auth, timeout=5).headers["X-Cache"] == "MISS"


def test_vary_keeps_one_copy_per_language(lab):
    origin, proxy, url, clock = lab
    texts = [requests.get(url + "/greeting", headers={"Accept-Language": lang}, timeout=5)
             for lang in ("en", "fr", "en", "fr")]
    assert [r.text for r in texts] == ["hello", "bonjour", "hello", "bonjour"]
    assert [r.headers["X-Cache"] for r in texts] == ["MISS", "MISS", "HIT", "HIT"]


def test_purge_and_unsafe_methods_invalidate(lab):
    origin, proxy, url, clock = lab
    requests.get(url + "/public", timeout=5)
    assert requests.request("PURGE", url + "/public", timeout=5).text.startswith("purged 1")
    assert requests.get(url + "/public", timeout=5).headers["X-Cache"] == "MISS"
    assert requests.post(url + "/public", timeout=5).text == "changed"
    assert requests.get(url + "/public", timeout=5).headers["X-Cache"] == "MISS"


def test_head_is_not_stored_and_a_body_is_forwarded(lab):
    origin, proxy, url, clock = lab
    assert requests.head(url + "/public", timeout=5).headers["X-Cache"] == "PASS"
    get = requests.get(url + "/public", timeout=5)
    assert (get.headers["X-Cache"], get.text) == ("MISS", "p")
    assert requests.head(url + "/public", timeout=5).headers["X-Cache"] == "HIT"
    echoed = requests.post(url + "/echo", json={"a": 1}, timeout=5)
    assert echoed.json() == {"type": "application/json", "body": {"a": 1}}
