"""Small Flask apps for step 07: each attack shown working, then failing against the fix.

VULNERABLE BY DESIGN. The ``vulnerable=True`` variants contain real security bugs
(string-built SQL, escaping turned off, no CSRF protection, no login throttle) so the
notebook can show an attack succeeding. They are for demos on 127.0.0.1 only: never
deploy them, never copy their code. Every factory also builds the fixed variant,
which is the code to learn from.

- :func:`create_login_app` -- SQL injection in a login form; optional login throttle
  (:class:`LoginThrottle`: 429 + ``Retry-After``).
- :func:`create_invoice_app` -- broken access control: any user reads any invoice by
  changing its id (IDOR); the fix filters by owner and answers 404.
- :func:`create_xss_app` -- reflected (``/search``) and stored (``/comments``) XSS;
  the fix escapes output and sends a Content-Security-Policy.
- :func:`create_bank_app` -- a cookie-authenticated money transfer; the fixes are a
  CSRF token and the ``SameSite`` cookie attribute.
- :func:`create_attacker_site` and :class:`SimulatedBrowser` -- a cross-site page that
  auto-submits a form, and a tiny browser model that applies the SameSite rules
  (``requests`` ignores them, as any non-browser client does).
"""

from __future__ import annotations

import functools
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
    "DEMO_INVOICES",
    "DEMO_USERS",
    "LoginThrottle",
    "MAX_TRANSFER",
    "SimulatedBrowser",
    "create_attacker_site",
    "create_bank_app",
    "create_invoice_app",
    "create_login_app",
    "create_xss_app",
    "parse_amount",
]

#: Demo accounts seeded into the login apps (made-up passwords, for local demos only).
DEMO_USERS = {"admin": "correct horse battery staple", "alice": "wonderland-42"}

#: bcrypt reads at most this many bytes of a password (bcrypt >= 5 raises beyond it).
BCRYPT_MAX_BYTES = 72

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


@functools.cache
def _demo_hashes(rounds: int) -> tuple[dict[str, bytes], bytes]:
    """bcrypt hashes of DEMO_USERS at cost ``rounds``, and a dummy hash of a random secret.

    The dummy is checked when the username is unknown, so that case costs one bcrypt
    hash too. Computed once per process and cost: the demo apps a notebook builds share
    them instead of paying for the same hashes again (each is salted all the same).
    """
    hashes = {name: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds)) for name, pw in DEMO_USERS.items()}
    return hashes, bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))


def create_login_app(
    vulnerable: bool, throttle: LoginThrottle | None = None, bcrypt_rounds: int = 10
) -> Flask:
    """A login form backed by SQLite. ``vulnerable=True`` builds its SQL with an f-string.

    ``POST /login`` (form fields ``username``, ``password``) answers 200
    ``{"logged_in_as": name}`` or 401. The app keeps every SQL statement it ran in
    ``app.config["SQL_LOG"]`` so you can see what the database was asked.

    The vulnerable variant (DEMO ONLY) also stores unsalted SHA-256 digests and compares
    them in SQL. The fixed one uses a parametrised query and bcrypt at cost
    ``bcrypt_rounds`` (10, OWASP's minimum; tune it upwards so a hash takes a good
    fraction of a second on your servers), and gives an attacker nothing to tell accounts
    apart: an unknown user is checked against a dummy hash of the same cost (same time
    as a wrong password), and a password over bcrypt's 72-byte limit is an ordinary,
    counted 401 (never a 500). With ``throttle`` the app answers 429 with
    ``Retry-After`` once a user has too many recent failures.
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
        dummy_hash = b""  # never checked: this variant does not use bcrypt
    else:
        db.execute("CREATE TABLE users (username TEXT PRIMARY KEY, password_hash BLOB)")
        hashes, dummy_hash = _demo_hashes(bcrypt_rounds)
        for name, hashed in hashes.items():
            db.execute("INSERT INTO users VALUES (?, ?)", (name, hashed))

    def run(sql: str, params: tuple = ()) -> list[tuple]:
        app.config["SQL_LOG"].append(sql)
        with lock:
            return db.execute(sql, params).fetchall()

    def password_matches(password: str, stored: bytes | None) -> bool:
        """Exactly one bcrypt check whatever the input: no error, no shortcut to time."""
        data = password.encode("utf-8", "surrogatepass")
        too_long = len(data) > BCRYPT_MAX_BYTES  # bcrypt 5 raises, 4.x would truncate
        matches = bcrypt.checkpw(data[:BCRYPT_MAX_BYTES], stored or dummy_hash)
        return matches and stored is not None and not too_long

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
            stored = rows[0][1] if rows else None
            user = rows[0][0] if password_matches(password, stored) else None
        if user is None:
            if throttle is not None:
                throttle.record_failure(username)
            return jsonify(error="invalid credentials"), 401
        if throttle is not None:
            throttle.reset(username)
        return jsonify(logged_in_as=user)

    return app


# --------------------------------------------------------------------------- access control

#: The largest integer SQLite stores; larger ids in a URL cannot name a row.
SQLITE_MAX_INTEGER = 2**63 - 1

#: Invoices seeded into the invoice app: id -> (owner, customer, total in cents).
DEMO_INVOICES = {
    1041: ("alice", "Alice Liddell", 12_900),
    1042: ("bob", "Bob Builder", 4_500),
    1043: ("alice", "Alice Liddell", 799),
}


def create_invoice_app(vulnerable: bool) -> Flask:
    """An invoice API where each user may read only their own invoices.

    Clients authenticate with ``Authorization: Bearer <token>``; the tokens are in
    ``app.config["API_TOKENS"]`` (user -> token, random per app). ``GET /invoices``
    lists the caller's invoice ids; ``GET /invoices/<id>`` returns one invoice.
    A missing or wrong token is a 401 with ``WWW-Authenticate: Bearer``.

    The vulnerable variant (DEMO ONLY) authenticates but never authorises: any user
    can read any invoice by changing the id in the URL (an IDOR, "insecure direct
    object reference", the commonest case of OWASP A01 Broken Access Control). The
    fixed one puts the owner in the query itself, and answers 404 for an invoice
    that is not yours, exactly as for one that does not exist, so ids cannot be probed.
    """
    app = Flask("vulnerable_invoices" if vulnerable else "fixed_invoices")
    app.config["API_TOKENS"] = {user: secrets.token_urlsafe(24) for user in ("alice", "bob")}
    app.config["SQL_LOG"] = []
    db = sqlite3.connect(":memory:", check_same_thread=False)
    lock = threading.Lock()
    db.execute(
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, owner TEXT, customer TEXT, total_cents INTEGER)"
    )
    db.executemany("INSERT INTO invoices VALUES (?, ?, ?, ?)", [(k, *v) for k, v in DEMO_INVOICES.items()])

    def run(sql: str, params: tuple) -> list[tuple]:
        app.config["SQL_LOG"].append(sql)
        with lock:
            return db.execute(sql, params).fetchall()

    def current_user() -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        for user, expected in app.config["API_TOKENS"].items():
            if hmac.compare_digest(token.encode(), expected.encode()):
                return user
        return None

    def unauthorized():
        response = jsonify(error="send a valid bearer token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="invoices"'
        return response

    @app.get("/invoices")
    def list_invoices():
        user = current_user()
        if user is None:
            return unauthorized()
        rows = run("SELECT id FROM invoices WHERE owner = ? ORDER BY id", (user,))
        return jsonify(invoices=[row[0] for row in rows])

    @app.get("/invoices/<int:invoice_id>")
    def get_invoice(invoice_id: int):
        user = current_user()
        if user is None:
            return unauthorized()
        if invoice_id > SQLITE_MAX_INTEGER:  # no such row, and SQLite would overflow
            return jsonify(error="no such invoice"), 404
        if vulnerable:
            # VULNERABLE BY DESIGN: the id alone picks the row; whose it is never checked.
            rows = run("SELECT id, owner, customer, total_cents FROM invoices WHERE id = ?", (invoice_id,))
        else:
            rows = run(
                "SELECT id, owner, customer, total_cents FROM invoices WHERE id = ? AND owner = ?",
                (invoice_id, user),
            )
        if not rows:
            return jsonify(error="no such invoice"), 404
        invoice_id, owner, customer, total = rows[0]
        return jsonify(id=invoice_id, owner=owner, customer=customer, total_cents=total)

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


#: The largest amount one transfer may move (whole units), so no input overflows anything.
MAX_TRANSFER = 1_000_000


def parse_amount(text: str) -> int | None:
    """A transfer amount from form text: whole units, 1..MAX_TRANSFER; None if invalid.

    Only ASCII digits count (``str.isdigit`` also accepts ``"²"``), so ``"-500"``,
    ``"ten"``, ``"1e9"`` and ``" 5"`` are all refused.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 7:
        return None
    amount = int(text)
    return amount if 1 <= amount <= MAX_TRANSFER else None


def create_bank_app(
    csrf_token: bool, samesite: str | None = None, secret_key: str | None = None, secure_cookie: bool = False
) -> Flask:
    """A bank whose ``POST /transfer`` is authenticated by a session cookie.

    ``POST /login`` (form field ``username``; the password check is left out, see the
    login app) starts a session. ``GET /transfer`` shows the transfer form;
    ``POST /transfer`` (``to``, ``amount``) moves money; ``GET /transfers`` lists the
    logged-in user's own transfers. Every route but login needs a session (401), and
    a transfer needs a recipient and a whole, positive amount up to
    :data:`MAX_TRANSFER` (else 400): ``amount=-500`` would move money the other way.

    ``csrf_token=False`` and ``samesite=None`` is the vulnerable setup (DEMO ONLY).
    ``csrf_token=True`` puts a per-session random token in the form and rejects a POST
    whose token does not match (403, compared with :func:`hmac.compare_digest`).
    ``samesite`` ("Lax", "Strict" or "None") sets the session cookie's SameSite
    attribute; browsers reject ``SameSite=None`` unless the cookie is also ``Secure``
    (``secure_cookie=True``), which is only sent over HTTPS.
    """
    if samesite not in (None, "Lax", "Strict", "None"):
        raise ValueError(f"samesite must be None, 'Lax', 'Strict' or 'None', got {samesite!r}")
    app = Flask("bank")
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        SESSION_COOKIE_SAMESITE=samesite,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure_cookie,
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
        to = request.form.get("to", "").strip()
        amount = parse_amount(request.form.get("amount", ""))
        if not to or len(to) > 64:
            return jsonify(error="'to' must name a recipient (at most 64 characters)"), 400
        if amount is None:
            return jsonify(error=f"'amount' must be a whole number from 1 to {MAX_TRANSFER}"), 400
        record = {"from": session["user"], "to": to, "amount": amount}
        transfers.append(record)
        return jsonify(sent=record)

    @app.get("/transfers")
    def list_transfers():
        if "user" not in session:
            return jsonify(error="not logged in"), 401
        user = session["user"]
        return jsonify([t for t in transfers if user in (t["from"], t["to"])])

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
    As in current browsers, a cookie marked ``SameSite=None`` without ``Secure`` is
    rejected, and a ``Secure`` cookie is neither set nor sent over plain HTTP; each
    rejection is noted in :attr:`rejected` as ``(name, reason)``.
    A cookie without the attribute is treated as ``default_samesite`` ("None", the
    legacy behaviour Firefox and Safari keep; Chrome defaults to "Lax"). Sites here are
    scheme + host, so ``http://localhost:...`` and ``http://127.0.0.1:...`` differ.
    """

    def __init__(self, default_samesite: str = "None") -> None:
        self.default_samesite = default_samesite
        self.cookies: dict[str, dict[str, tuple[str, str, bool]]] = defaultdict(dict)
        self.rejected: list[tuple[str, str]] = []

    def _cookies_for(self, url: str, method: str, initiator: str | None) -> dict[str, str]:
        cross_site = initiator is not None and _site(initiator) != _site(url)
        https = urlsplit(url).scheme == "https"
        sent = {}
        for name, (value, samesite, secure) in self.cookies[_site(url)[1]].items():
            rule = samesite.capitalize()
            if cross_site and (rule == "Strict" or (rule == "Lax" and method != "GET")):
                continue
            if secure and not https:
                continue
            sent[name] = value
        return sent

    def _store(self, url: str, header: str) -> None:
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            explicit = morsel["samesite"]
            secure = bool(morsel["secure"])
            if explicit.capitalize() == "None" and not secure:
                self.rejected.append((name, "SameSite=None requires Secure"))
                continue
            if secure and urlsplit(url).scheme != "https":
                self.rejected.append((name, "Secure cookie set over plain HTTP"))
                continue
            self.cookies[_site(url)[1]][name] = (morsel.value, explicit or self.default_samesite, secure)

    def request(self, method: str, url: str, initiator: str | None = None, **kwargs) -> requests.Response:
        """Send a request as the browser would; ``initiator`` is the URL of the page that caused it."""
        method = method.upper()
        cookies = self._cookies_for(url, method, initiator)
        timeout = kwargs.pop("timeout", 5)
        response = requests.request(
            method, url, cookies=cookies, allow_redirects=False, timeout=timeout, **kwargs
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            self._store(url, header)
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
