"""helpers.asgi_server: uvicorn in a background thread on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading

import pytest
import requests
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from websockets.sync.client import connect

from helpers.asgi_server import AsgiServerError, running, serve_asgi, stop_all


async def hello(request):
    return PlainTextResponse("hello")


async def boom(request):
    raise ZeroDivisionError("division by zero in the app")


async def echo(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())


def create_app():
    return Starlette(routes=[Route("/hello", hello), Route("/boom", boom), WebSocketRoute("/echo", echo)])


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(autouse=True)
def _stop_servers():
    yield
    stop_all()


def test_serves_http_and_websockets_on_loopback():
    server = serve_asgi(create_app(), "demo")
    assert server.url.startswith("http://127.0.0.1:") and server.ws_url.startswith("ws://127.0.0.1:")
    assert requests.get(server.url + "/hello", timeout=5).text == "hello"
    with connect(server.ws_url + "/echo", open_timeout=5) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "HI"


def test_readiness_probe_does_not_reach_the_app():
    paths = []

    async def app(scope, receive, send):
        paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    server = serve_asgi(app, "raw")
    assert paths == []
    assert requests.get(server.url + "/x", timeout=5).text == "ok"
    assert paths == ["/x"]


def test_rerunning_the_start_cell_ten_times_leaks_no_port_or_thread():
    first = serve_asgi(create_app(), "demo")
    fds_before, threads_before = open_fds(), threading.active_count()
    replaced = [first]
    for _ in range(10):  # what re-running `server = serve_asgi(app, "demo")` does
        server = serve_asgi(create_app(), "demo")
        replaced.append(server)
    replaced.pop()
    assert list(running()) == ["demo"] and running()["demo"] is server and server.running
    # Their sockets are closed (the fd count below); a freed port number itself may already
    # be taken by another process when tests run in parallel, so it is not checked here.
    assert not any(old.running for old in replaced), "every replaced server stopped"
    assert not port_is_free(server.port)
    assert threading.active_count() <= threads_before + 1
    assert open_fds() <= fds_before + 2
    assert requests.get(server.url + "/hello", timeout=5).status_code == 200


def test_stop_releases_the_port_and_is_idempotent():
    server = serve_asgi(create_app(), "demo")
    server.stop()
    server.stop()
    assert not server.running and running() == {}
    assert port_is_free(server.port)


def test_stop_does_not_wait_for_open_websockets():
    server = serve_asgi(create_app(), "demo")
    with connect(server.ws_url + "/echo", open_timeout=5):
        server.stop()
    assert not server.running


def test_app_errors_are_recorded_and_silent(capfd):
    server = serve_asgi(create_app(), "demo")
    assert requests.get(server.url + "/boom", timeout=5).status_code == 500
    with pytest.raises(AsgiServerError, match="ZeroDivisionError"):
        server.check()
    server.check()  # cleared
    server.stop()
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_keep_alive_requests_are_not_delayed_by_nagle():
    server = serve_asgi(create_app(), "demo")
    import time

    with requests.Session() as session:
        session.get(server.url + "/hello", timeout=5)
        times = []
        for _ in range(11):
            start = time.perf_counter()
            session.get(server.url + "/hello", timeout=5)
            times.append(time.perf_counter() - start)
    # With Nagle's algorithm on, every response waits ~40 ms for a delayed ACK; the median
    # is not moved by one request a busy machine happened to delay.
    per_request = sorted(times)[len(times) // 2]
    assert per_request < 0.035, f"median {per_request * 1000:.1f} ms per keep-alive request"
