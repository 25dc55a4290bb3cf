"""The step 10a reference blog (helpers/blog_app) and its plumbing (helpers/blog_lab).

- The reference app is exactly what the solution notebook writes with ``%%writefile``
  (minus nbgrader's markers), so the walkthrough shows the code the proofs grade.
- The plumbing the project's tests rely on behaves: the fake clock, ``spy``, the CSRF
  client, fresh imports, ``html_elements``.
- schemathesis, from :data:`helpers.blog_lab.OPENAPI`, finds no 5xx and no undocumented
  status or body in the JSON API, logged in (cookie and CSRF token) or not.
"""

from __future__ import annotations

import re
import sys

import pytest
import requests
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings

from helpers import blog_lab
from helpers.blog_lab import OPENAPI, BlogClient, FakeClock, html_elements, spy, start_blog
from helpers.course.steps import REPO
from tests.reference_apps import assert_notebook_writes

REFERENCE = REPO / "helpers" / "blog_app"
SOLUTION = REPO / "solutions" / "10a-blog" / "10a-blog.ipynb"


def test_the_reference_app_is_what_the_solution_notebook_writes():
    assert_notebook_writes(SOLUTION, "blog", REFERENCE)


@pytest.fixture
def server():
    server = start_blog("helpers.blog_app")
    yield server
    server.stop()


def test_the_fake_clock_moves_only_when_told():
    clock = FakeClock(start=10.0)
    assert clock() == 10.0
    clock.advance(2.5)
    assert clock() == 12.5


def test_spy_counts_calls_from_any_thread_and_restores_the_method(server):
    original = PasswordHasher.__dict__["verify"]
    alice = server.user("spy_alice")
    with spy(PasswordHasher, "verify") as verify:
        assert alice.login("spy_alice", "wrong password here").status_code == 401
    assert verify.count == 1
    assert PasswordHasher.__dict__["verify"] is original


def test_the_client_sends_the_csrf_token_and_refreshes_it_at_login(server):
    client = BlogClient(server.url)
    assert client.register("csrf_bob", blog_lab.TEST_PASSWORD).status_code == 201
    before = client.token
    assert client.login("csrf_bob", blog_lab.TEST_PASSWORD).status_code == 200
    assert client.token and client.token != before
    assert requests.post(server.url + "/logout", cookies=client.cookies, timeout=10).status_code == 403


def test_start_blog_imports_afresh_and_serves_on_loopback(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server.package is sys.modules["helpers.blog_app"]
    with server.db() as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3


def test_html_elements_sees_markup_not_escaped_text():
    assert html_elements('<p>&lt;script&gt; <a href="x">y</a></p>') == [("p", {}), ("a", {"href": "x"})]


def test_every_route_of_the_api_is_documented(server):
    routes = {re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule) for rule in server.app.url_map.iter_rules()}
    api = {route for route in routes if route.startswith("/api/")} | {"/csrf", "/register"}
    assert api <= routes and api == set(OPENAPI["paths"])


# ---- schemathesis ---------------------------------------------------------------------------

schema = schemathesis.openapi.from_dict(OPENAPI)
SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), print_blob=False)


@pytest.fixture
def api():
    """The reference app with two posts, and the headers of a logged-in author (a fresh app per
    operation: tests/conftest.py stops every server after each test)."""
    server = start_blog("helpers.blog_app")
    author = server.user("author")
    for n in (1, 2):
        author.post("/api/posts", json={"title": f"Post {n}", "body": "Some **Markdown**."})
    session = author.cookies.get("session")
    yield server, {"Cookie": f"session={session}", "X-CSRF-Token": author.token}
    server.check()
    server.stop()


@schema.parametrize()
@SETTINGS
def test_the_blog_api_conforms_to_its_openapi(case, api):
    """Generated requests, logged in: no 5xx, documented statuses, bodies match their schemas."""
    server, headers = api
    case.call_and_validate(base_url=server.url, headers=headers)
