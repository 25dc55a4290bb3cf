"""helpers.vulnerable_apps: each attack works on the vulnerable app and fails on the fixed one."""

from __future__ import annotations

import pytest
import requests

from helpers.servers import serve
from helpers.vulnerable_apps import (
    DEMO_USERS,
    LoginThrottle,
    SimulatedBrowser,
    create_attacker_site,
    create_bank_app,
    create_login_app,
    create_xss_app,
)


def login(server, username, password):
    response = requests.post(
        server.url + "/login", data={"username": username, "password": password}, timeout=5
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("vulnerable", [True, False])
def test_login_works_with_the_right_password_only(vulnerable):
    server = serve(create_login_app(vulnerable, bcrypt_rounds=4))
    assert login(server, "alice", DEMO_USERS["alice"]) == (200, {"logged_in_as": "alice"})
    assert login(server, "alice", "wrong")[0] == 401


@pytest.mark.parametrize("payload", ["admin' --", "' OR 1=1 --"])
def test_sql_injection_works_on_vulnerable_only(payload):
    vulnerable = serve(create_login_app(True))
    fixed = serve(create_login_app(False, bcrypt_rounds=4))
    assert login(vulnerable, payload, "x") == (200, {"logged_in_as": "admin"})
    assert login(fixed, payload, "x")[0] == 401
    assert "?" in fixed.app.config["SQL_LOG"][-1]


def test_broken_sql_is_a_500_not_a_crash():
    server = serve(create_login_app(True))
    assert login(server, "'", "x") == (500, {"error": "database error"})


@pytest.mark.parametrize(("vulnerable", "raw"), [(True, True), (False, False)])
def test_xss(vulnerable, raw):
    server = serve(create_xss_app(vulnerable))
    payload = "<script>alert(1)</script>"
    body = requests.get(server.url + "/search", params={"q": payload}, timeout=5).text
    assert (payload in body) is raw
    requests.post(server.url + "/comments", data={"text": payload}, timeout=5)
    page = requests.get(server.url + "/comments", timeout=5)
    assert (payload in page.text) is raw
    assert ("Content-Security-Policy" in page.headers) is not vulnerable


def forged_transfer(bank_app):
    bank = serve(bank_app)
    attacker = serve(create_attacker_site(bank.url))
    browser = SimulatedBrowser()
    browser.post(bank.url + "/login", data={"username": "alice"})
    page = browser.get(attacker.url.replace("127.0.0.1", "localhost"))
    return bank, browser, browser.submit_first_form(page)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"csrf_token": False}, 200), ({"csrf_token": True}, 403),
     ({"csrf_token": False, "samesite": "Lax"}, 401), ({"csrf_token": False, "samesite": "Strict"}, 401)],
)
def test_csrf(kwargs, status):
    _, _, forged = forged_transfer(create_bank_app(**kwargs))
    assert forged.status_code == status


def test_csrf_token_lets_the_genuine_form_through():
    bank, browser, _ = forged_transfer(create_bank_app(csrf_token=True, samesite="Strict"))
    form = browser.get(bank.url + "/transfer")
    sent = browser.submit_first_form(form, fill={"to": "bob", "amount": "5"})
    assert sent.json() == {"sent": {"from": "alice", "to": "bob", "amount": 5}}


def test_lax_cookies_still_follow_cross_site_links():
    bank = serve(create_bank_app(csrf_token=False, samesite="Lax"))
    browser = SimulatedBrowser()
    browser.post(bank.url + "/login", data={"username": "alice"})
    assert browser.get(bank.url + "/transfer", initiator="http://localhost:1/").status_code == 200


def test_bank_rejects_a_bad_samesite_value():
    with pytest.raises(ValueError, match="samesite"):
        create_bank_app(csrf_token=True, samesite="lax-ish")


def test_submit_without_a_form_says_so():
    attacker = serve(create_xss_app(False))
    page = SimulatedBrowser().get(attacker.url + "/comments")
    with pytest.raises(ValueError, match="no <form"):
        SimulatedBrowser().submit_first_form(page)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_throttle_blocks_then_forgets():
    clock = Clock()
    throttle = LoginThrottle(3, window=10, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("k") == 0
        throttle.record_failure("k")
    clock.now = 2.5
    assert throttle.retry_after("k") == 8
    assert throttle.retry_after("other") == 0
    clock.now = 10
    assert throttle.retry_after("k") == 0
    throttle.record_failure("k")
    throttle.reset("k")
    assert throttle.retry_after("k") == 0


def test_throttled_app_answers_429_with_retry_after():
    clock = Clock()
    server = serve(create_login_app(False, throttle=LoginThrottle(2, 60, clock), bcrypt_rounds=4))
    assert [login(server, "alice", "bad")[0] for _ in range(3)] == [401, 401, 429]
    blocked = requests.post(server.url + "/login", data={"username": "alice"}, timeout=5)
    assert blocked.headers["Retry-After"] == "60"
    clock.now = 60
    assert login(server, "alice", DEMO_USERS["alice"])[0] == 200


@pytest.mark.parametrize("kwargs", [{"max_failures": 0}, {"window": 0}])
def test_throttle_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match="max_failures"):
        LoginThrottle(**kwargs)
