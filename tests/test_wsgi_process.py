"""helpers.wsgi_process: production WSGI servers as subprocesses, started and stopped cleanly."""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests

from helpers.wsgi_process import WSGIProcessError, available_servers, running, start_wsgi, stop_all

APP = "helpers.mini_api:create_app()"
SERVERS = available_servers()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.mark.parametrize("server", SERVERS)
def test_serves_and_stops_leaving_nothing_behind(server):
    proc = start_wsgi(APP, workers=2, server=server)
    try:
        assert proc.url.startswith("http://127.0.0.1:")
        assert requests.get(proc.url + "/healthz", timeout=5).json() == {"status": "ok"}
        assert proc in running()
    finally:
        proc.stop()
    assert not proc.running and proc not in running()
    assert not alive(proc.pid)
    assert not proc.log_path.exists(), "the log file is removed (its text stays in proc.log_text)"
    with pytest.raises(requests.ConnectionError):
        requests.get(proc.url + "/healthz", timeout=2)


@pytest.mark.skipif("gunicorn" not in SERVERS, reason="gunicorn needs POSIX")
def test_gunicorn_graceful_shutdown_finishes_in_flight_request():
    proc = start_wsgi(APP, workers=2, server="gunicorn", env={"DEMO_ROUTES": "1"})
    result = {}

    def call():
        result["response"] = requests.get(proc.url + "/slow?seconds=1.5", timeout=10)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.7)  # the request is in flight
    code = proc.stop()
    thread.join()
    assert code == 0, proc.log_text
    assert result["response"].json() == {"slept": 1.5}


def test_environment_reaches_the_app():
    proc = start_wsgi(APP, workers=1, env={"DEMO_ROUTES": "1"})
    try:
        assert requests.get(proc.url + "/slow?seconds=0", timeout=5).status_code == 200
    finally:
        proc.stop()


def test_bad_config_fails_with_the_log():
    with pytest.raises(WSGIProcessError) as info:
        start_wsgi(APP, workers=1, env={"MAX_CONTENT_LENGTH": "lots"}, timeout=15)
    assert "MAX_CONTENT_LENGTH" in str(info.value)
    assert running() == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least 1"):
        start_wsgi(APP, workers=0)
    with pytest.raises(WSGIProcessError, match="not usable"):
        start_wsgi(APP, server="uwsgi-nope")


def test_stop_all_and_double_stop():
    proc = start_wsgi(APP, workers=1)
    stop_all()
    assert not proc.running
    assert proc.stop() == proc.process.returncode


@pytest.mark.skipif("gunicorn" not in SERVERS, reason="gunicorn needs POSIX")
def test_wait_for_log_names_the_worker_and_skips_old_lines():
    """The /slow route logs the pid serving it; ``since`` ignores what an earlier request logged."""
    proc = start_wsgi(APP, workers=1, server="gunicorn", env={"DEMO_ROUTES": "1"})
    try:
        assert requests.get(proc.url + "/slow?seconds=0", timeout=5).status_code == 200
        first = proc.wait_for_log("slow request started", timeout=5)
        assert first == f"slow request started in process {proc.worker_pids()[0]}"
        mark = len(proc.log_text)
        with pytest.raises(WSGIProcessError, match="did not appear"):
            proc.wait_for_log("slow request started", timeout=0.2, since=mark)
        requests.get(proc.url + "/slow?seconds=0", timeout=5)
        assert proc.wait_for_log("slow request started", timeout=5, since=mark) == first
    finally:
        proc.stop()
