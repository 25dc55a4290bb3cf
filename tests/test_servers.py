"""helpers.servers and helpers.local_httpbin: real servers on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading

import pytest
import requests
from flask import Flask

from helpers.local_httpbin import start_httpbin
from helpers.servers import ServerError, running, serve, stop_all


def create_app(test_config=None):
    app = Flask("demo")
    app.config.update(test_config or {})

    @app.get("/hello")
    def hello():
        return {"hello": "world"}

    @app.get("/boom")
    def boom():
        raise ZeroDivisionError("division by zero in the app")

    return app


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def port_is_free(port: int) -> bool:
    """True if a new server could listen on ``port`` (with SO_REUSEADDR, as servers do: the
    readiness probe's connection may leave TIME_WAIT on the port, which only that refuses)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_serve_answers_on_loopback_with_a_free_port():
    server = serve(create_app())
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port > 0
    assert requests.get(server.url + "/hello", timeout=5).json() == {"hello": "world"}


def test_serve_does_not_call_the_app_to_check_readiness():
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    server = serve(app)
    assert calls == []
    assert requests.get(server.url + "/x", timeout=5).text == "hi"
    assert calls == ["/x"]


def test_rerunning_the_same_cell_ten_times_leaks_no_port():
    first = serve(create_app())
    fds_before, threads_before = open_fds(), threading.active_count()
    ports = [first.port]
    for _ in range(10):  # what re-running `server = serve(create_app())` does
        server = serve(create_app())
        ports.append(server.port)
    assert list(running()) == ["demo"], "one server under the name, the rest stopped"
    assert running()["demo"] is server and server.running
    assert all(port_is_free(p) for p in ports[:-1]), "every replaced server released its port"
    assert not port_is_free(ports[-1])
    assert open_fds() <= fds_before + 2
    assert threading.active_count() <= threads_before + 1
    assert requests.get(server.url + "/hello", timeout=5).status_code == 200


def test_servers_under_different_names_run_side_by_side():
    a = serve(create_app(), name="a")
    b = serve(create_app(), name="b")
    assert a.port != b.port and a.running and b.running
    stop_all()
    assert not a.running and not b.running and running() == {}


def test_stop_releases_the_port_and_is_idempotent():
    server = serve(create_app())
    server.stop()
    server.stop()
    assert not server.running
    assert port_is_free(server.port)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/hello", timeout=2)


def test_context_manager_stops_the_server():
    with serve(create_app(), name="ctx") as server:
        assert requests.get(server.url + "/hello", timeout=5).ok
    assert not server.running and "ctx" not in running()


def test_an_exception_in_a_flask_view_is_surfaced_by_check(capfd):
    server = serve(create_app())
    response = requests.get(server.url + "/boom", timeout=5)
    assert response.status_code == 500
    with pytest.raises(ServerError, match="ZeroDivisionError: division by zero in the app") as info:
        server.check()
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    server.check()  # the error was reported once and cleared
    out, err = capfd.readouterr()
    assert err == "", "nothing may reach stderr (nbval compares it, nbgrader zeroes on it)"


def test_an_exception_in_a_plain_wsgi_app_is_surfaced_by_check(capfd):
    def broken(environ, start_response):
        raise KeyError("missing")

    server = serve(broken)
    assert requests.get(server.url, timeout=5).status_code == 500
    with pytest.raises(ServerError, match="KeyError"):
        server.check()
    assert capfd.readouterr().err == ""


def test_an_exception_in_the_server_thread_is_surfaced(monkeypatch):
    from helpers import servers

    def crash(self, poll_interval=0.5):
        raise OSError("serve_forever died")

    monkeypatch.setattr(servers._QuietServer, "serve_forever", crash)
    with pytest.raises(ServerError, match="serve_forever died") as info:
        serve(create_app())
    assert isinstance(info.value.__cause__, OSError)
    assert running() == {}


def test_a_server_that_never_answers_fails_with_a_clear_error(monkeypatch):
    from helpers import servers

    monkeypatch.setattr(servers._QuietServer, "serve_forever", lambda self, poll_interval=0.5: None)
    with pytest.raises(ServerError, match="did not answer within"):
        serve(create_app(), timeout=0.3)
    assert running() == {}


def test_request_logging_stays_off_stderr(capfd):
    server = serve(create_app())
    for _ in range(3):
        requests.get(server.url + "/hello", timeout=5)
    requests.get(server.url + "/missing", timeout=5)
    assert capfd.readouterr().err == ""


def test_local_httpbin_echoes_requests(capfd):
    httpbin = start_httpbin()
    body = requests.get(httpbin.url + "/get", params={"q": "flask"}, timeout=5).json()
    assert body["args"] == {"q": "flask"}
    assert requests.get(httpbin.url + "/status/418", timeout=5).status_code == 418
    assert capfd.readouterr().err == "", "httpbin's flasgger warning must not reach stderr"


def test_local_httpbin_restarts_on_rerun():
    first = start_httpbin()
    second = start_httpbin()
    assert not first.running and second.running
    assert port_is_free(first.port)


def test_https_server_verified_against_its_own_ca():
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = serve(create_app(), name="tls", ssl_context=context)
    assert server.url.startswith("https://127.0.0.1:")
    with ca.cert_pem.tempfile() as ca_file:
        assert requests.get(server.url + "/hello", verify=ca_file, timeout=5).json() == {"hello": "world"}
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "/hello", timeout=5)  # the system CAs do not trust it
