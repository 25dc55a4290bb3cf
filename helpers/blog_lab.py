"""Plumbing for the blog capstone (step 10a): serve a blog package, drive it over HTTP.

The capstone's app is a package (``blog/``) that the project notebook writes to files
next to itself; the reference app is :mod:`helpers.blog_app`, the same code. Tests
and the walkthrough use the pieces here, so their cells stay short::

    from helpers.blog_lab import BlogClient, start_blog
    server = start_blog()                      # imports ./blog afresh, serves it on 127.0.0.1
    alice = BlogClient(server.url)
    alice.register("alice", "correct horse battery")
    alice.login("alice", "correct horse battery")
    alice.post("/api/posts", json={"title": "Hello", "body": "**hi**"}).json()["html"]
    server.stop()

- :func:`start_blog` re-imports the package every time (a re-run ``%%writefile`` cell
  takes effect without restarting the kernel), builds the app with ``create_app`` and a
  fresh database in a temporary folder, cheap argon2 parameters (the defaults take about
  0.1 s a hash, on purpose) and a :class:`FakeClock`, and serves it with
  :func:`helpers.servers.serve` (so a re-run cell stops the previous server).
- :class:`BlogClient` is a ``requests.Session`` that sends the session's CSRF token
  with every state-changing request, as the app's own forms do.
- :func:`html_elements` lists the tags and attributes of an HTML fragment, for tests
  that must tell markup from escaped text.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import requests

from helpers.servers import BackgroundServer, serve

__all__ = ["CHEAP_ARGON2", "OPENAPI", "BlogClient", "BlogServer", "FakeClock", "html_elements", "import_blog",
           "spy", "start_blog"]

#: argon2id parameters that hash in about a millisecond: for tests only. A test that
#: logs in forty times would otherwise spend seconds hashing.
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
#: The password of the users :meth:`BlogServer.user` creates (a test fixture, not a secret).
TEST_PASSWORD = "correct horse battery staple"  # noqa: S105


class FakeClock:
    """A clock the test moves by hand: ``clock()`` is the time, ``clock.advance(s)`` moves it."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class BlogServer:
    """A served blog app: ``url``, ``app``, ``package`` (the imported module), ``clock``,
    ``database`` (the SQLite file), ``statements`` (SQL run so far), ``db()`` and ``stop()``."""

    def __init__(self, server: BackgroundServer, app: Any, package: Any, clock: FakeClock,
                 database: Path, statements: list[str], tmp: tempfile.TemporaryDirectory) -> None:
        self.server, self.app, self.package, self.clock = server, app, package, clock
        self.database, self.statements, self._tmp = database, statements, tmp
        self.url = server.url

    def db(self) -> sqlite3.Connection:
        """A direct connection to the app's database, to read rows back (close it after)."""
        conn = sqlite3.connect(self.database)
        conn.row_factory = sqlite3.Row
        return conn

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` inside the app's context (e.g. a service function)."""
        with self.app.app_context():
            return function(*args, **kwargs)

    def user(self, username: str, role: str = "author", password: str = TEST_PASSWORD) -> BlogClient:
        """Create a user with the package's own ``auth.create_user`` and return a client
        logged in as them (an admin cannot register: they are created like this)."""
        auth = importlib.import_module(self.package.__name__ + ".auth")
        self.call(auth.create_user, username, password, role)
        client = BlogClient(self.url)
        response = client.login(username, password)
        if response.status_code != 200:
            raise RuntimeError(f"logging in as {username!r} failed: "
                               f"{response.status_code} {response.text[:200]}")
        return client

    def check(self) -> None:
        """Re-raise the first exception the app raised while serving (a 500), if any."""
        self.server.check()

    def stop(self) -> None:
        self.server.stop()
        self._tmp.cleanup()


def _fresh_import(package: str) -> Any:
    """Import ``package`` anew: drop it and its submodules from ``sys.modules`` first."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()  # files written a moment ago must be seen
    return importlib.import_module(package)


def import_blog(package: str = "blog") -> Any:
    """Import ``package`` afresh (default: ``./blog``, next to the notebook) and return it."""
    here = str(Path.cwd())
    if package.split(".")[0] == "blog" and here not in sys.path:
        sys.path.insert(0, here)  # the notebook's folder, where it writes blog/
    return _fresh_import(package)


class spy:  # noqa: N801 (used like a function: `with spy(PasswordHasher, "verify") as verify:`)
    """Count the calls to ``cls.name`` (in any thread) while the ``with`` block runs.

    ``before(*args, **kwargs)``, if given, runs before each call: a test can hold
    calls there. The method is restored on exit.
    """

    def __init__(self, cls: type, name: str, before: Any = None) -> None:
        self.cls, self.name, self.before = cls, name, before
        self.count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> spy:
        original = self.original = self.cls.__dict__[self.name]

        def counting(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
            if self.before is not None:
                self.before(*args, **kwargs)
            return original(*args, **kwargs)

        setattr(self.cls, self.name, counting)
        return self

    def __exit__(self, *exc_info: object) -> None:
        setattr(self.cls, self.name, self.original)


def start_blog(package: str = "blog", setup: Any = None, **config: Any) -> BlogServer:
    """Import ``package`` (default: ``./blog``, the notebook's), build its app with
    ``create_app(config)`` on a fresh database, and serve it on 127.0.0.1.

    ``config`` overrides the test defaults: ``DATABASE`` (a temporary file), ``ARGON2``
    (:data:`CHEAP_ARGON2`), ``CLOCK`` (a :class:`FakeClock`), ``SECRET_KEY``, ``SQL_TRACE``
    (appends each statement to ``server.statements``), ``SESSION_COOKIE_SECURE=False``
    (plain HTTP on 127.0.0.1; the app's default sends the cookie over HTTPS only).
    ``setup(app)``, if given, runs before the app is served (a test adds a route there).
    """
    module = import_blog(package)
    tmp = tempfile.TemporaryDirectory(prefix="blog-")
    clock, statements = FakeClock(), []
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE": str(Path(tmp.name) / "blog.sqlite"),
        "ARGON2": CHEAP_ARGON2,
        "CLOCK": clock,
        "SQL_TRACE": statements.append,
        "SESSION_COOKIE_SECURE": False,  # the tests speak plain HTTP to 127.0.0.1
    }
    settings.update(config)
    app = module.create_app(settings)
    if setup is not None:
        setup(app)
    return BlogServer(serve(app, name="blog"), app, module, settings["CLOCK"],
                      Path(settings["DATABASE"]), statements, tmp)


class BlogClient(requests.Session):
    """A browser stand-in: keeps the session cookie and sends the CSRF token.

    Relative paths are joined to ``base_url``. Before the first state-changing request,
    and after logging in (the app starts a fresh session then), it fetches the
    session's token from ``GET /csrf`` and sends it as ``X-CSRF-Token``.
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__()
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.token: str | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            if self.token is None:
                self.refresh_token()
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRF-Token", self.token or "")
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)

    def refresh_token(self) -> str:
        """Fetch this session's CSRF token from ``GET /csrf``."""
        response = super().request("GET", self.base_url + "/csrf", timeout=self.timeout)
        response.raise_for_status()
        self.token = response.json()["csrf_token"]
        return self.token

    def register(self, username: str, password: str) -> requests.Response:
        return self.post("/register", json={"username": username, "password": password})

    def login(self, username: str, password: str) -> requests.Response:
        """POST /login; on success, fetch the new session's CSRF token."""
        response = self.post("/login", json={"username": username, "password": password})
        if response.status_code == 200:
            self.refresh_token()
        return response


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def html_elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The elements of ``html`` as ``(tag, {attribute: value})``, in order. Escaped text
    (``&lt;script&gt;``) is text, not an element, so it is not listed."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found



def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


def _errors(*codes: int) -> dict[str, Any]:
    error = _ok("error", _object(["error"], error={"type": "string"}))
    return {str(code): error for code in codes}


def _form_errors(*codes: int) -> dict[str, Any]:
    """Errors of a route that also serves an HTML form: JSON for a JSON request, else the page."""
    errors = _errors(*codes)
    for response in errors.values():
        response["content"] = {**response["content"], "text/html": {"schema": {"type": "string"}}}
    return errors


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, **_json(schema)}


_INT, _STR = {"type": "integer"}, {"type": "string"}
_HTML = {"content": {"text/html": {"schema": _STR}}}
_POST = _object(["id", "title", "body", "html", "author", "created"], id=_INT, title=_STR, body=_STR,
                html=_STR, created=_STR, author=_object(["id", "username"], id=_INT, username=_STR))
_PAGE = _object(["posts", "page", "per_page", "total"], posts={"type": "array", "items": _POST},
                page={"type": "integer", "minimum": 1}, per_page=_INT,
                total={"type": "integer", "minimum": 0})
_PAGE_PARAM = {"name": "page", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": 10_000}}
_POST_ID = {"name": "post_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_TITLE = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 20_000, "pattern": r"\S"}
_COMMENT = {"type": "string", "minLength": 1, "maxLength": 2_000, "pattern": r"\S"}
_USER = _object(["id", "username", "role"], id=_INT, username=_STR, role={"enum": ["author", "admin"]})
_CREDENTIALS = _object(["username", "password"],
                       username={"type": "string", "pattern": "^[A-Za-z0-9_]{3,30}$"},
                       password={"type": "string", "minLength": 12, "maxLength": 128})
# Other fields (an author_id, say) are ignored, never applied; at least one of these is needed.
_PATCH = {"type": "object", "properties": {"title": _TITLE, "body": _TEXT},
          "anyOf": [{"required": ["title"]}, {"required": ["body"]}]}

#: The blog's JSON API (the capstone's table of routes) as an OpenAPI 3.0 document: what
#: tests/test_blog_app.py points schemathesis at. Unsafe methods need a logged-in session's
#: cookie and its X-CSRF-Token (403 without).
OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Blog API (step 10a)", "version": "1.0"},
    "paths": {
        "/csrf": {"get": {"responses": {
            "200": _ok("the session's token", _object(["csrf_token"], csrf_token=_STR))}}},
        "/register": {"get": {"responses": {"200": {"description": "the HTML form", **_HTML}}}, "post": {
            "requestBody": _body(_CREDENTIALS),
            "responses": {"201": _ok("created", _USER), "302": {"description": "a form: to /login"},
                          **_form_errors(400, 409), **_errors(403, 413)}}},
        "/api/me": {"get": {"responses": {"200": _ok("the user", _USER), **_errors(401)}}},
        "/api/posts": {
            "get": {"parameters": [_PAGE_PARAM],
                    "responses": {"200": _ok("a page of posts", _PAGE), **_errors(400)}},
            "post": {"requestBody": _body(_object(["title", "body"], title=_TITLE, body=_TEXT)),
                     "responses": {"201": _ok("created", _POST), **_errors(400, 401, 403, 413)}}},
        "/api/posts/{post_id}": {
            "parameters": [_POST_ID],
            "get": {"responses": {"200": _ok("the post", _POST), **_errors(404)}},
            "patch": {"requestBody": _body(_PATCH),
                      "responses": {"200": _ok("changed", _POST), **_errors(400, 401, 403, 404, 413)}},
            "delete": {"responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404)}}},
        "/api/posts/{post_id}/comments": {
            "parameters": [_POST_ID],
            "get": {"responses": {
                "200": _ok("the comments", _object(["comments"], comments={"type": "array"})),
                **_errors(404)}},
            "post": {"requestBody": _body(_object(["body"], body=_COMMENT)),
                     "responses": {"201": _ok("created", _object(["id", "body"], id=_INT, body=_STR)),
                                   **_errors(400, 401, 403, 404, 413)}}},
        "/api/search": {"get": {
            "parameters": [{"name": "q", "in": "query", "required": False,
                            "schema": {"type": "string", "maxLength": 200}}, _PAGE_PARAM],
            "responses": {"200": _ok("a page of matches", _PAGE), **_errors(400)}}},
    },
}
