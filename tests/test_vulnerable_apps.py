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
    create_invoice_app,
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


# ------------------------------------------------ the fixed apps hold up against attacks
# (issue 17 §3): what a scanner such as sqlmap or schemathesis would try, pinned here.


def fixed_login_client(rounds=4, throttle=None):
    return create_login_app(False, throttle=throttle, bcrypt_rounds=rounds).test_client()


@pytest.mark.parametrize(
    "password",
    ["a" * 73, "a" * 70 + "🔑", DEMO_USERS["alice"] + "x" * 72, DEMO_USERS["alice"] + "\x00", "\x00"],
)
def test_fixed_login_answers_hostile_passwords_with_a_plain_401(password):
    client = fixed_login_client()
    for user in ("alice", "nobody"):
        response = client.post("/login", data={"username": user, "password": password})
        assert response.status_code == 401, (user, password[:10], response.status_code)
        assert response.get_json() == {"error": "invalid credentials"}


def test_an_over_long_password_is_a_counted_failure():
    clock = Clock()
    client = fixed_login_client(throttle=LoginThrottle(2, 60, clock))
    statuses = [client.post("/login", data={"username": "alice", "password": "p" * 100}).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_a_password_sharing_the_first_72_bytes_is_not_accepted():
    """bcrypt 4.x truncated silently; the app must not log in with a longer variant."""
    client = fixed_login_client()
    long_right = DEMO_USERS["admin"] * 3  # 81 bytes, its first 72 are not the password
    assert len(long_right.encode()) > 72
    response = client.post("/login", data={"username": "admin", "password": long_right})
    assert response.status_code == 401


def test_unknown_and_known_users_get_the_same_answer():
    client = fixed_login_client()
    known = client.post("/login", data={"username": "alice", "password": "wrong"})
    unknown = client.post("/login", data={"username": "mallory", "password": "wrong"})
    assert (known.status_code, known.get_data()) == (unknown.status_code, unknown.get_data())


def _median_login_times(client, usernames, n=9):
    """Median CPU seconds of a failed login per username, measured in turns.

    The hash runs in this thread (Flask's test client), so its CPU time is the work the
    server does, whatever else the machine is running; taking the names in turns keeps
    a busy moment from landing on one name only."""
    import statistics
    import time

    times = {name: [] for name in usernames}
    for _ in range(n):
        for name in usernames:
            started = time.thread_time()
            client.post("/login", data={"username": name, "password": "wrong password"})
            times[name].append(time.thread_time() - started)
    return [statistics.median(times[name]) for name in usernames]


def test_unknown_users_take_as_long_as_known_ones():
    """A dummy hash of the same cost is checked for unknown users: timing tells nothing."""
    client = fixed_login_client(rounds=8)  # ~10 ms a hash: far above the noise of the rest
    _median_login_times(client, ["alice"], n=1)  # warm up
    known, unknown = _median_login_times(client, ["alice", "nobody-at-all"])
    assert 0.5 < unknown / known < 2, (
        f"CPU per login: known user {known * 1e3:.1f} ms, unknown {unknown * 1e3:.1f} ms")


def test_bcrypt_rejects_over_long_passwords():
    """pyproject pins bcrypt>=5: the walkthrough shows hashpw raising on 73 bytes."""
    import bcrypt

    with pytest.raises(ValueError, match="72 bytes"):
        bcrypt.hashpw(b"a" * 73, bcrypt.gensalt(4))


def logged_in_bank(**kwargs):
    client = create_bank_app(csrf_token=False, **kwargs).test_client()
    client.post("/login", data={"username": "alice"})
    return client


@pytest.mark.parametrize("amount", ["-500", "0", "ten", "1e3", "²", " 5", "5.5", "", "99999999999999999999",
                                    "1000001"])
def test_bank_rejects_bad_amounts_with_400(amount):
    client = logged_in_bank()
    response = client.post("/transfer", data={"to": "bob", "amount": amount})
    assert response.status_code == 400, (amount, response.status_code)
    assert "amount" in response.get_json()["error"]
    assert client.get("/transfers").get_json() == []


def test_bank_rejects_a_missing_recipient_with_400():
    client = logged_in_bank()
    assert client.post("/transfer", data={"amount": "5"}).status_code == 400
    assert client.post("/transfer", data={"to": " ", "amount": "5"}).status_code == 400


def test_bank_lists_transfers_to_their_owners_only():
    bank = create_bank_app(csrf_token=False)
    anonymous = bank.test_client()
    assert anonymous.get("/transfers").status_code == 401
    alice, carol = bank.test_client(), bank.test_client()
    alice.post("/login", data={"username": "alice"})
    carol.post("/login", data={"username": "carol"})
    assert alice.post("/transfer", data={"to": "bob", "amount": "7"}).status_code == 200
    assert alice.get("/transfers").get_json() == [{"from": "alice", "to": "bob", "amount": 7}]
    assert carol.get("/transfers").get_json() == []


def test_samesite_none_without_secure_is_rejected_by_the_browser_model():
    bank = serve(create_bank_app(csrf_token=True, samesite="None"))
    browser = SimulatedBrowser()
    browser.post(bank.url + "/login", data={"username": "alice"})
    assert browser.rejected == [("session", "SameSite=None requires Secure")]
    assert browser.get(bank.url + "/transfer").status_code == 401  # not logged in


def test_secure_cookies_are_not_set_over_plain_http():
    bank = serve(create_bank_app(csrf_token=True, samesite="None", secure_cookie=True))
    browser = SimulatedBrowser()
    browser.post(bank.url + "/login", data={"username": "alice"})
    assert browser.rejected == [("session", "Secure cookie set over plain HTTP")]


def test_secure_samesite_none_cookies_work_over_https():
    from helpers.tls import LocalTLS

    tls = LocalTLS()
    try:
        bank = serve(create_bank_app(csrf_token=True, samesite="None", secure_cookie=True),
                     ssl_context=tls.server_context())
        browser = SimulatedBrowser()
        browser.post(bank.url + "/login", data={"username": "alice"}, verify=tls.ca_file)
        assert browser.rejected == []
        assert browser.get(bank.url + "/transfer", verify=tls.ca_file).status_code == 200
        bank.stop()
    finally:
        tls.cleanup()


@pytest.mark.parametrize("vulnerable", [True, False])
def test_invoices_need_a_valid_bearer_token(vulnerable):
    app = create_invoice_app(vulnerable)
    client = app.test_client()
    no_scheme = app.config["API_TOKENS"]["bob"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": no_scheme}):
        response = client.get("/invoices/1041", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("vulnerable", "leaked"), [(True, True), (False, False)])
def test_idor(vulnerable, leaked):
    app = create_invoice_app(vulnerable)
    bob = {"Authorization": "Bearer " + app.config["API_TOKENS"]["bob"]}
    client = app.test_client()
    assert client.get("/invoices", headers=bob).get_json() == {"invoices": [1042]}
    assert client.get("/invoices/1042", headers=bob).get_json()["owner"] == "bob"
    alices = client.get("/invoices/1041", headers=bob)
    assert (alices.status_code == 200) is leaked
    if not leaked:  # not yours and not there look the same
        assert (alices.status_code, alices.get_json()) == (404, {"error": "no such invoice"})
        assert client.get("/invoices/9999", headers=bob).get_json() == alices.get_json()
        assert "owner = ?" in app.config["SQL_LOG"][-1]


def test_invoice_ids_beyond_64_bits_are_a_404_not_a_500():
    app = create_invoice_app(False)
    bob = {"Authorization": "bearer " + app.config["API_TOKENS"]["bob"]}  # scheme: any case
    assert app.test_client().get("/invoices/" + "9" * 30, headers=bob).status_code == 404
