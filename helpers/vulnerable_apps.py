"""Small Flask apps for step 07: each attack shown working, then failing against the fix.

VULNERABLE BY DESIGN. The ``vulnerable=True`` variants contain real security bugs
(string-built SQL, escaping turned off, no CSRF protection, no login throttle) so the
notebook can show an attack succeeding. They are for demos on 127.0.0.1 only: never
deploy them, never copy their code. Every factory also builds the fixed variant,
which is the code to learn from.

- :func:`create_login_app` -- SQL injection in a login form; optional login throttle
  (:class:`LoginThrottle`: 429 + ``Retry-After``).
- :func:`create_xss_app` -- reflected (``/search``) and stored (``/comments``) XSS;
  the fix escapes output and sends a Content-Security-Policy.
- :func:`create_bank_app` -- a cookie-authenticated money transfer; the fixes are a
  CSRF token and the ``SameSite`` cookie attribute.
- :func:`create_attacker_site` and :class:`SimulatedBrowser` -- a cross-site page that
  auto-submits a form, and a tiny browser model that applies the SameSite rules
  (``requests`` ignores them, as any non-browser client does).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import sqlite3
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import bcrypt
import requests
from flask import Flask, abort, jsonify, render_template_string, request, session

__all__ = [
    "DEMO_USERS",
    "LoginThrottle",
    "SimulatedBrowser",
    "create_attacker_site",
    "create_bank_app",
    "create_login_app",
    "create_xss_app",
]

#: Demo accounts seeded into the login apps (made-up passwords, for local demos only).
DEMO_USERS = {"admin": "correct horse battery staple", "alice": "wonderland-42"}

CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


# --------------------------------------------------------------------------- login


class LoginThrottle:
    """Allow at most ``max_failures`` failed logins per key within ``window`` seconds.

    ``clock`` returns the current time in seconds (default :func:`time.monotonic`); pass
    your own to test without sleeping. :meth:`retry_after` is 0 when a login attempt is
    allowed, else the whole seconds to wait (the value of a ``Retry-After`` header).
    """

    def __init__(
        self, max_failures: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_failures < 1 or window <= 0:
            raise ValueError("LoginThrottle needs max_failures >= 1 and a positive window (seconds)")
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: allowed now)."""
        now = self.clock()
        with self._lock:
            failures = self._prune(key, now)
            if len(failures) < self.max_failures:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def record_failure(self, key: str) -> None:
        """Count one failed login for ``key``."""
        with self._lock:
            self._failures[key].append(self.clock())

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful login)."""
        with self._lock:
            self._failures.pop(key, None)


def create_login_app(
    vulnerable: bool, throttle: LoginThrottle | None = None, bcrypt_rounds: int = 10
) -> Flask:
    """A login form backed by SQLite. ``vulnerable=True`` builds its SQL with an f-string.

    ``POST /login`` (form fields ``username``, ``password``) answers 200
    ``{"logged_in_as": name}`` or 401. The app keeps every SQL statement it ran in
    ``app.config["SQL_LOG"]`` so you can see what the database was asked.

    The vulnerable variant (DEMO ONLY) also stores unsalted SHA-256 digests and compares
    them in SQL; the fixed one uses a parametrised query and bcrypt (``bcrypt_rounds``
    is lowered for demo speed; use 12 or more in production). With ``throttle`` the app
    answers 429 with ``Retry-After`` once a user has too many recent failures.
    """
    app = Flask("vulnerable_login" if vulnerable else "fixed_login")
    app.config["SQL_LOG"] = []
    db = sqlite3.connect(":memory:", check_same_thread=False)
    lock = threading.Lock()
    if vulnerable:
        db.execute("CREATE TABLE users (username TEXT PRIMARY KEY, password_sha256 TEXT)")
        for name, password in DEMO_USERS.items():
            digest = hashlib.sha256(password.encode()).hexdigest()  # DEMO ONLY: fast, unsalted
            db.execute("INSERT INTO users VALUES (?, ?)", (name, digest))
    else:
        db.execute("CREATE TABLE users (username TEXT PRIMARY KEY, password_hash BLOB)")
        for name, password in DEMO_USERS.items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(bcrypt_rounds))
            db.execute("INSERT INTO users VALUES (?, ?)", (name, hashed))

    def run(sql: str, params: tuple = ()) -> list[tuple]:
        app.config["SQL_LOG"].append(sql)
        with lock:
            return db.execute(sql, params).fetchall()

    @app.post("/login")
    def login():
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if throttle is not None:
            wait = throttle.retry_after(username)
            if wait:
                response = jsonify(error="too many failed logins, try again later")
                response.status_code = 429
                response.headers["Retry-After"] = str(wait)
                return response
        if vulnerable:
            digest = hashlib.sha256(password.encode()).hexdigest()
            # VULNERABLE BY DESIGN: user input pasted into SQL. Never do this.
            sql = (
                f"SELECT username FROM users WHERE username = '{username}' "  # noqa: S608
                f"AND password_sha256 = '{digest}'"
            )
            try:
                rows = run(sql)
            except sqlite3.Error:
                return jsonify(error="database error"), 500
            user = rows[0][0] if rows else None
        else:
            rows = run("SELECT username, password_hash FROM users WHERE username = ?", (username,))
            user = None
            if rows and bcrypt.checkpw(password.encode(), rows[0][1]):
                user = rows[0][0]
        if user is None:
            if throttle is not None:
                throttle.record_failure(username)
            return jsonify(error="invalid credentials"), 401
        if throttle is not None:
            throttle.reset(username)
        return jsonify(logged_in_as=user)

    return app


# --------------------------------------------------------------------------- XSS

_SEARCH_VULNERABLE = "<h1>Search</h1><p>Results for <b>{{ q|safe }}</b></p>"
_SEARCH_FIXED = "<h1>Search</h1><p>Results for <b>{{ q }}</b></p>"
_COMMENTS_VULNERABLE = "<h1>Comments</h1><ul>{% for c in comments %}<li>{{ c|safe }}</li>{% endfor %}</ul>"
_COMMENTS_FIXED = "<h1>Comments</h1><ul>{% for c in comments %}<li>{{ c }}</li>{% endfor %}</ul>"


def create_xss_app(vulnerable: bool) -> Flask:
    """A search page (reflected XSS) and a comment wall (stored XSS).

    ``GET /search?q=...`` echoes the query; ``POST /comments`` (form field ``text``)
    stores a comment and ``GET /comments`` lists them. The vulnerable variant (DEMO
    ONLY) marks user input ``|safe``, turning Jinja's autoescaping off; the fixed one
    lets autoescaping work and sends a Content-Security-Policy that blocks inline
    scripts as a second line of defence.
    """
    app = Flask("vulnerable_xss" if vulnerable else "fixed_xss")
    comments: list[str] = []

    @app.get("/search")
    def search():
        page = _SEARCH_VULNERABLE if vulnerable else _SEARCH_FIXED
        return render_template_string(page, q=request.args.get("q", ""))

    @app.post("/comments")
    def add_comment():
        comments.append(request.form.get("text", ""))
        return jsonify(stored=len(comments)), 201

    @app.get("/comments")
    def list_comments():
        page = _COMMENTS_VULNERABLE if vulnerable else _COMMENTS_FIXED
        return render_template_string(page, comments=comments)

    if not vulnerable:

        @app.after_request
        def content_security_policy(response):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response

    return app


# --------------------------------------------------------------------------- CSRF

_TRANSFER_FORM = """<form method="post" action="/transfer">
{% if token %}<input type="hidden" name="csrf_token" value="{{ token }}">{% endif %}
<input name="to"> <input name="amount"> <button>Send</button></form>"""


def create_bank_app(csrf_token: bool, samesite: str | None = None, secret_key: str | None = None) -> Flask:
    """A bank whose ``POST /transfer`` is authenticated by a session cookie.

    ``POST /login`` (form field ``username``; the password check is left out, see the
    login app) starts a session. ``GET /transfer`` shows the transfer form;
    ``POST /transfer`` (``to``, ``amount``) moves money; ``GET /transfers`` lists them.

    ``csrf_token=False`` and ``samesite=None`` is the vulnerable setup (DEMO ONLY).
    ``csrf_token=True`` puts a per-session random token in the form and rejects a POST
    whose token does not match (403, compared with :func:`hmac.compare_digest`).
    ``samesite`` ("Lax" or "Strict") sets the session cookie's SameSite attribute.
    """
    if samesite not in (None, "Lax", "Strict"):
        raise ValueError(f"samesite must be None, 'Lax' or 'Strict', got {samesite!r}")
    app = Flask("bank")
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        SESSION_COOKIE_SAMESITE=samesite,
        SESSION_COOKIE_HTTPONLY=True,
    )
    transfers: list[dict] = []

    @app.post("/login")
    def login():
        session.clear()
        session["user"] = request.form.get("username", "")
        session["csrf"] = secrets.token_urlsafe(32)
        return jsonify(logged_in_as=session["user"])

    @app.get("/transfer")
    def transfer_form():
        if "user" not in session:
            abort(401)
        return render_template_string(_TRANSFER_FORM, token=session["csrf"] if csrf_token else None)

    @app.post("/transfer")
    def transfer():
        if "user" not in session:
            return jsonify(error="not logged in"), 401
        if csrf_token:
            sent = request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent.encode(), session["csrf"].encode()):
                return jsonify(error="CSRF token missing or wrong"), 403
        record = {"from": session["user"], "to": request.form["to"], "amount": int(request.form["amount"])}
        transfers.append(record)
        return jsonify(sent=record)

    @app.get("/transfers")
    def list_transfers():
        return jsonify(transfers)

    return app


def create_attacker_site(target: str, to: str = "mallory", amount: int = 1000) -> Flask:
    """The attacker's page: a hidden form that posts a transfer to ``target`` on load."""
    app = Flask("attacker_site")
    page = f"""<html><body onload="document.forms[0].submit()">
<h1>You won a prize!</h1>
<form method="post" action="{target}/transfer">
<input type="hidden" name="to" value="{to}">
<input type="hidden" name="amount" value="{amount}">
</form></body></html>"""

    @app.get("/")
    def prize():
        return page

    return app


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.method = "get"
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self._in_form = True
            self.action = values.get("action", "")
            self.method = values.get("method", "get").lower()
        elif tag == "input" and self._in_form and "name" in values:
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _site(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or ""


class SimulatedBrowser:
    """A minimal model of how a browser attaches cookies, including ``SameSite``.

    ``requests`` sends every cookie it holds; a browser does not. Here a cookie set by
    a response is sent back to the same host only, and on a *cross-site* request
    (the page that triggered it is on another site) only if its SameSite rule allows:
    ``Strict`` never, ``Lax`` for top-level GET navigations only, ``None`` always.
    A cookie without the attribute is treated as ``default_samesite`` ("None", the
    legacy behaviour; Chrome now defaults to "Lax"). Sites here are scheme + host,
    so ``http://localhost:...`` and ``http://127.0.0.1:...`` are different sites.
    """

    def __init__(self, default_samesite: str = "None") -> None:
        self.default_samesite = default_samesite
        self.cookies: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)

    def _cookies_for(self, url: str, method: str, initiator: str | None) -> dict[str, str]:
        cross_site = initiator is not None and _site(initiator) != _site(url)
        sent = {}
        for name, (value, samesite) in self.cookies[_site(url)[1]].items():
            rule = samesite.capitalize()
            if cross_site and (rule == "Strict" or (rule == "Lax" and method != "GET")):
                continue
            sent[name] = value
        return sent

    def request(self, method: str, url: str, initiator: str | None = None, **kwargs) -> requests.Response:
        """Send a request as the browser would; ``initiator`` is the URL of the page that caused it."""
        method = method.upper()
        cookies = self._cookies_for(url, method, initiator)
        response = requests.request(
            method, url, cookies=cookies, allow_redirects=False, timeout=5, **kwargs
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                samesite = morsel["samesite"] or self.default_samesite
                self.cookies[_site(url)[1]][name] = (morsel.value, samesite)
        return response

    def get(self, url: str, initiator: str | None = None, **kwargs) -> requests.Response:
        """GET ``url`` (typed by the user when ``initiator`` is None)."""
        return self.request("GET", url, initiator, **kwargs)

    def post(self, url: str, initiator: str | None = None, **kwargs) -> requests.Response:
        """POST to ``url``."""
        return self.request("POST", url, initiator, **kwargs)

    def submit_first_form(
        self, page: requests.Response, fill: dict[str, str] | None = None
    ) -> requests.Response:
        """Submit the first form of ``page``: its (hidden) fields, updated with ``fill``.

        Without ``fill`` this is what an attacker page's onload script does; with it, a
        user typing into the form.
        """
        parser = _FormParser()
        parser.feed(page.text)
        parser.fields.update(fill or {})
        if not parser.action:
            raise ValueError(f"the page at {page.url} has no <form action=...> to submit")
        target = urljoin(page.url, parser.action)
        if parser.method == "post":
            return self.post(target, initiator=page.url, data=parser.fields)
        return self.get(target, initiator=page.url, params=parser.fields)
