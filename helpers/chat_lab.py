"""Plumbing for the chat capstone (step 10c): two instances of a chat package, and clients.

The capstone's app is a package (``chat/``) the project notebook writes next to itself;
the reference app is :mod:`helpers.chat_app`. Tests and the walkthrough use the pieces
here, so their cells stay short::

    from helpers.chat_lab import ChatClient, start_pair
    pair = start_pair("helpers.chat_app")         # instances a and b, one database, one Redis
    alice = ChatClient(pair.a.url).signup("alice")
    room = alice.post("/api/rooms", json={"name": "general"}).json()
    with alice.socket() as ws:                    # WebSocket, Authorization: Bearer ...
        ws.join(room["id"])
        ws.send(room["id"], "hello")
        ws.next("message")["body"]
    pair.stop()

- :func:`start_pair` imports the package afresh, builds two apps with ``create_app``
  sharing an SQLAlchemy engine (:func:`helpers.databases.engine`: SQLite in a temporary
  folder, or the server at ``DATABASE_URL``) and a Redis (one fakeredis server shared by
  both, or the server at ``REDIS_URL``, under a key prefix of this run's own), a
  :class:`~helpers.blog_lab.FakeClock` and cheap argon2 parameters, and serves each with
  :func:`helpers.asgi_server.serve_asgi`. Starting a pair stops the previous one.
- :class:`ChatClient` is a ``requests.Session`` that sends its bearer token;
  :class:`ChatSocket` is the ``websockets`` synchronous client with the protocol's verbs.
- :func:`load_run` drives N WebSocket clients at once and measures throughput and
  delivery latency.
- :class:`RivalAfterFirstCommand` and :func:`rival_before_first_write` put a rival request
  at the one moment a check-then-act answer is exposed (between two Redis commands, just
  before the first write), so the graded tests see a race every time, with no timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from helpers import asgi_server, databases
from helpers.blog_lab import CHEAP_ARGON2, FakeClock

__all__ = ["OPENAPI", "TEST_PASSWORD", "ChatClient", "ChatPair", "ChatSocket", "LoadResult",
           "RivalAfterFirstCommand", "handshake_status", "import_chat", "load_run",
           "rival_before_first_write", "start_pair"]

#: The password of the users :meth:`ChatClient.signup` creates (a test fixture, not a secret).
TEST_PASSWORD = "correct horse battery staple"  # noqa: S105

_current: ChatPair | None = None


def import_chat(package: str = "chat") -> Any:
    """Import ``package`` afresh (default ``./chat``, next to the notebook) and return it."""
    here = str(Path.cwd())
    if package.split(".")[0] == "chat" and here not in sys.path:
        sys.path.insert(0, here)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    import importlib

    importlib.invalidate_caches()  # files written a moment ago must be seen
    return importlib.import_module(package)


class _Redis:
    """Where the pair's Redis lives: a shared fakeredis server, or REDIS_URL; its key prefix."""

    def __init__(self) -> None:
        self.url = os.environ.get("REDIS_URL", "").strip() or None
        run = re.sub(r"[^a-z0-9]", "", os.environ.get("LAB_RUN_ID", "").lower())[:20]
        self.prefix = f"lab:{run + '_' if run else ''}{secrets.token_hex(4)}:chat"
        if self.url is None:
            import fakeredis

            self._server = fakeredis.FakeServer()

    def factory(self) -> Any:
        """A new asyncio client (each instance makes its own, in its own event loop)."""
        if self.url is None:
            import fakeredis

            return fakeredis.FakeAsyncRedis(server=self._server, decode_responses=True)
        import redis.asyncio

        return redis.asyncio.Redis.from_url(self.url, decode_responses=True)

    def sync(self) -> Any:
        """A synchronous client on the same data (for a test to look inside)."""
        if self.url is None:
            import fakeredis

            return fakeredis.FakeRedis(server=self._server, decode_responses=True)
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=5)

    def describe(self) -> str:
        if self.url is None:
            return "fakeredis (embedded, shared by both instances)"
        return f"Redis at {self.url}"

    def clear(self) -> list[str]:
        """Delete this run's keys; return their names."""
        client = self.sync()
        try:
            keys = sorted(client.scan_iter(match=f"{self.prefix}*", count=500))
            if keys:
                client.delete(*keys)
            return keys
        finally:
            client.close()


class ChatPair:
    """Two served instances, ``a`` and ``b`` (:class:`helpers.asgi_server.AsgiServer`),
    with ``package``, ``clock``, ``engine``, ``redis`` (a :class:`_Redis`) and ``stop()``."""

    def __init__(self, package: Any, servers: list[Any], clock: FakeClock, engine: Any,
                 redis: _Redis) -> None:
        self.package, self.servers, self.clock = package, servers, clock
        self.engine, self.redis = engine, redis
        self.a, self.b = servers

    def describe(self) -> str:
        """Which database and which Redis the pair uses (what the notebook prints)."""
        return f"database: {databases.describe(self.engine).split(' (')[0]}; pub/sub: {self.redis.describe()}"

    def check(self) -> None:
        """Re-raise the first exception either instance raised while serving, if any."""
        for server in self.servers:
            server.check()

    def stop(self) -> None:
        global _current
        closing = [asyncio.run_coroutine_threadsafe(s.app.state.chat.aclose(), s.app.state.chat.hub.loop)
                   for s in self.servers if s.app.state.chat.hub.loop is not None and s.running]
        for future in closing:  # Redis is closed inside each server's own event loop
            future.result(timeout=5)
        for server in self.servers:  # both shut down at once, then each is waited for
            server.request_stop()
        for server in self.servers:
            server.stop()
        self.redis.clear()
        databases.drop(self.engine)
        if _current is self:
            _current = None


def start_pair(package: str = "chat", **config: Any) -> ChatPair:
    """Import ``package`` and serve two instances of it on 127.0.0.1 (see the module docstring).

    ``config`` overrides the test defaults passed to ``create_app``: ``ENGINE``,
    ``REDIS``, ``PREFIX``, ``CLOCK`` (a :class:`FakeClock`), ``ARGON2`` (cheap).
    """
    global _current
    if _current is not None:
        _current.stop()
    module = import_chat(package)
    redis, clock = _Redis(), FakeClock()
    engine = databases.engine("chat")
    databases.never_sync(engine)
    settings = {"ENGINE": engine, "REDIS": redis.factory, "PREFIX": redis.prefix, "CLOCK": clock,
                "ARGON2": CHEAP_ARGON2, **config}
    servers = [asgi_server.serve_asgi(module.create_app(settings), f"chat-{name}") for name in "ab"]
    _current = ChatPair(module, servers, settings["CLOCK"], engine, redis)
    return _current


class ChatClient(requests.Session):
    """An API client: relative paths join ``base_url``; after :meth:`login` every request
    carries ``Authorization: Bearer <token>``."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__()
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.token: str | None = None
        self.username: str | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)

    def login(self, username: str, password: str = TEST_PASSWORD) -> requests.Response:
        response = self.post("/api/login", json={"username": username, "password": password})
        if response.status_code == 200:
            self.token, self.username = response.json()["token"], username
            self.headers["Authorization"] = f"Bearer {self.token}"
        return response

    def signup(self, username: str, password: str = TEST_PASSWORD) -> ChatClient:
        """Register and log in (raises if either fails); returns self."""
        for step in (self.post("/api/register", json={"username": username, "password": password}),
                     self.login(username, password)):
            if step.status_code not in (200, 201):
                raise RuntimeError(f"signing up {username!r}: {step.status_code} {step.text[:200]}")
        return self

    def at(self, base_url: str) -> ChatClient:
        """The same user (same token) talking to another instance."""
        other = ChatClient(base_url, self.timeout)
        other.token, other.username = self.token, self.username
        other.headers.update({k: v for k, v in self.headers.items() if k == "Authorization"})
        return other

    def socket(self, base_url: str | None = None, **kwargs: Any) -> ChatSocket:
        """A WebSocket to ``/ws`` (of ``base_url``, default this client's) with the bearer token."""
        url = (base_url or self.base_url).replace("http://", "ws://", 1) + "/ws"
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return ChatSocket(url, headers, **kwargs)


#: A statement that writes or locks rows: the point before which a rival's commit is a race.
_WRITES = re.compile(r"\s*(insert|update|delete|replace)\b|.*\bfor\s+update\b", re.I | re.S)


@contextlib.contextmanager
def rival_before_first_write(engine: Any, rival: Any) -> Any:
    """While open, just before the first statement on ``engine`` that writes (or locks with
    FOR UPDATE), run ``rival(connection)`` in a transaction of its own and commit it: another
    request that got there first, at the one moment a check-then-write answer cannot see it.
    Yields a list that holds ``rival``'s result once it has run (empty if nothing wrote).

    The app's connection holds no lock yet at that point (SQLite's deferred BEGIN and
    PostgreSQL's take none before the first write), so the rival never waits for it.
    """
    ran: list[Any] = []

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if ran or not _WRITES.match(statement):
            return
        ran.append(None)  # first: the rival's own statements come through here too
        with engine.begin() as other:
            ran[0] = rival(other)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield ran
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


class RivalAfterFirstCommand:
    """Stands in for an instance's asyncio Redis client: after the first command sent through
    it, and before that command's result is returned, ``await rival()`` runs (typically the
    same operation on the other instance). fakeredis runs each command whole, so two racers
    never fall between a read and a write on their own; this puts one there. A pipeline is
    one round trip, so its commands are not split: it is only recorded in ``pipelines``.
    ``commands``, if given, names the commands after which the rival may run (e.g. the
    reads). ``result`` is what the rival returned, ``ran`` whether it ran."""

    def __init__(self, real: Any, rival: Any, commands: tuple[str, ...] | None = None) -> None:
        self.real, self.rival, self.commands = real, rival, commands
        self.ran, self.result, self.pipelines = False, None, []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if name == "pipeline":
                self.pipelines.append(result)
            if not asyncio.iscoroutine(result) or (self.commands is not None and name not in self.commands):
                return result
            return self._then_rival(result)

        return call

    async def _then_rival(self, command: Any) -> Any:
        value = await command
        if not self.ran:
            self.ran = True
            self.result = await self.rival()
        return value


def handshake_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status a WebSocket handshake to ``url`` gets: 101 if the server accepts it
    (the socket is closed again at once), else the refusal's status (403 ...)."""
    try:
        with connect(url, additional_headers=headers or {}, open_timeout=5):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


class ChatSocket:
    """A chat WebSocket: ``join``, ``send``, ``leave``, and ``next(type)`` to read frames.

    Every frame read is kept in ``frames``; ``messages(room)`` lists the chat messages
    received for a room, in order.
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> None:
        self.timeout = timeout
        # Entered as a context manager, the way websockets wants a connection used (17.1+).
        self.ws = connect(url, additional_headers=headers or {}, open_timeout=timeout,
                          max_size=2**20).__enter__()
        self.frames: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []

    def __enter__(self) -> ChatSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.ws.__exit__(None, None, None)

    def send_json(self, data: Any) -> None:
        self.ws.send(json.dumps(data))

    def join(self, room: int, after: int = 0) -> dict[str, Any]:
        """Join ``room`` from ``after``; returns the ``joined`` frame (history read until then)."""
        self.send_json({"type": "join", "room": room, "after": after})
        return self.next("joined", "error")

    def send(self, room: int, body: str, nonce: str | None = None) -> dict[str, Any]:
        """Send a message; returns the ``ack`` (or ``error``) frame."""
        self.send_json({"type": "send", "room": room, "body": body, "nonce": nonce or secrets.token_hex(8)})
        return self.next("ack", "error")

    def leave(self, room: int) -> None:
        self.send_json({"type": "leave", "room": room})

    def _read(self, timeout: float) -> dict[str, Any]:
        frame = json.loads(self.ws.recv(timeout=timeout))
        self.frames.append(frame)
        return frame

    def next(self, *types: str, timeout: float | None = None) -> dict[str, Any]:
        """The next frame of one of ``types`` (any type if none); frames of other types
        are kept for later calls. TimeoutError if none comes within ``timeout``."""
        for i, frame in enumerate(self._unread):
            if not types or frame["type"] in types:
                return self._unread.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self._read(max(0.0, deadline - time.monotonic()))
            if not types or frame["type"] in types:
                return frame
            self._unread.append(frame)

    def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Read frames until none arrives for ``quiet`` seconds; return all unread ones."""
        while True:
            try:
                self._unread.append(self._read(quiet))
            except TimeoutError:
                unread, self._unread = self._unread, []
                return unread

    def messages(self, room: int) -> list[dict[str, Any]]:
        """The chat messages of ``room`` received so far, in arrival order."""
        return [f for f in self.frames if f["type"] == "message" and f["room"] == room]


@dataclass
class LoadResult:
    """What :func:`load_run` measured: sends, deliveries (distinct messages received, summed
    over the clients), repeats and out-of-order arrivals, and delivery latencies (seconds)."""

    clients: int
    sent: int
    delivered: int
    expected: int
    duplicates: int
    out_of_order: int
    seconds: float
    latencies: list[float] = field(repr=False)

    @property
    def sent_per_second(self) -> float:
        return self.sent / self.seconds

    @property
    def delivered_per_second(self) -> float:
        return self.delivered / self.seconds

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of the delivery latency (``p=95``: p95), in seconds."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(p) - 1]


def load_run(urls: list[str], tokens: list[str], room: int, messages: int = 10,
             interval: float = 0.02, timeout: float = 30.0) -> LoadResult:
    """N clients (one per token, spread over ``urls``) join ``room``; each sends ``messages``
    messages, one every ``interval`` seconds, and every client receives every message.

    Latency is from just before a send to the moment each receiver reads the message,
    on one clock (all clients are in this process). Runs in a thread with its own event
    loop, so it works from a notebook cell; bounded by ``timeout``.
    """
    result: list[LoadResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(asyncio.wait_for(
                _load(urls, tokens, room, messages, interval), timeout)))
        except BaseException as error:  # re-raised in the caller's thread below
            errors.append(error)

    thread = threading.Thread(target=run, name="chat-load", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    if errors:
        raise errors[0]
    if not result:
        raise TimeoutError(f"the load run did not finish within {timeout} s")
    return result[0]


async def _load(urls: list[str], tokens: list[str], room: int, messages: int, interval: float) -> LoadResult:
    from websockets.asyncio.client import connect as aconnect

    n = len(tokens)
    expected = n * messages  # each client receives every message, its own included
    run = secrets.token_hex(4)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    sockets = []
    async with contextlib.AsyncExitStack() as stack:
        for i, token in enumerate(tokens):
            url = urls[i % len(urls)].replace("http://", "ws://", 1) + "/ws"
            ws = await stack.enter_async_context(
                aconnect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10))
            await ws.send(json.dumps({"type": "join", "room": room, "after": 0}))
            while json.loads(await ws.recv())["type"] != "joined":
                pass
            sockets.append(ws)

        problems = {"duplicates": 0, "out_of_order": 0}

        async def receive(ws: Any) -> int:
            seen: set[str] = set()
            last_seq = 0
            while len(seen) < expected:
                frame = json.loads(await ws.recv())
                if frame["type"] != "message" or frame["nonce"] not in sent_at:
                    continue
                if frame["nonce"] in seen:
                    problems["duplicates"] += 1
                    continue
                latencies.append(time.perf_counter() - sent_at[frame["nonce"]])
                seen.add(frame["nonce"])
                problems["out_of_order"] += frame["seq"] < last_seq
                last_seq = frame["seq"]
            return len(seen)

        async def send(i: int, ws: Any) -> None:
            for k in range(messages):
                nonce = f"load-{run}-{i}-{k}"  # unique per run: a nonce used before is a retry
                sent_at[nonce] = time.perf_counter()
                await ws.send(json.dumps({"type": "send", "room": room, "body": f"message {k} from {i}",
                                          "nonce": nonce}))
                await asyncio.sleep(interval)

        start = time.perf_counter()
        receivers = [asyncio.create_task(receive(ws)) for ws in sockets]
        await asyncio.gather(*(send(i, ws) for i, ws in enumerate(sockets)))
        delivered = sum(await asyncio.gather(*receivers))
        seconds = time.perf_counter() - start
        return LoadResult(n, n * messages, delivered, n * expected, problems["duplicates"],
                          problems["out_of_order"], seconds, latencies)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **_json(schema)}


def _errors(*codes: int) -> dict[str, Any]:
    error = _ok("error", _object(["error"], error={"type": "string"}, code={"type": "string"}))
    return {str(code): error for code in (*codes, 413)}


_INT, _STR, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_ROOM_ID = {"name": "room_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_ROOM = _object(["id", "name", "private"], id=_INT, name=_STR, private=_BOOL, owner=_STR, member=_BOOL,
                last_seq=_INT)
_MESSAGE = _object(["room", "seq", "user", "body"], room=_INT, seq=_INT, user=_STR, body=_STR,
                   nonce={"type": "string", "nullable": True}, created={"type": "number"})
_CREDENTIALS = _object(["username", "password"],
                       username={"type": "string", "pattern": "^[A-Za-z0-9_]{3,30}$"},
                       password={"type": "string", "minLength": 12, "maxLength": 128})
_ROOM_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_](?:[A-Za-z0-9_ -]{0,38}[A-Za-z0-9_-])?$"}
# Non-blank, at most 2000 characters, no control or bidirectional-override characters.
_FORBIDDEN = "\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
_BODY = {"type": "string", "maxLength": 2000,
         "pattern": f"^[^{_FORBIDDEN}]*[^\\s{_FORBIDDEN}][^{_FORBIDDEN}]*$"}
_NONCE = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}

#: The chat's HTTP API as an OpenAPI 3.0 document: what tests/test_chat_app.py points
#: schemathesis at. Everything but register and login needs ``Authorization: Bearer``.
OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Chat API (step 10c)", "version": "1.0"},
    "paths": {
        "/api/register": {"post": {"requestBody": {"required": True, **_json(_CREDENTIALS)}, "responses": {
            "201": _ok("created", _object(["id", "username"], id=_INT, username=_STR)),
            **_errors(400, 409)}}},
        "/api/login": {"post": {"requestBody": {"required": True, **_json(_CREDENTIALS)}, "responses": {
            "200": _ok("a session", _object(["token", "expires_in"], token=_STR, expires_in=_INT)),
            **_errors(400, 401, 429)}}},
        "/api/logout": {"post": {"responses": {"204": {"description": "logged out"}, **_errors(401)}}},
        "/api/me": {"get": {"responses": {
            "200": _ok("the user", _object(["id", "username"], id=_INT, username=_STR)), **_errors(401)}}},
        "/api/tickets": {"post": {"responses": {
            "201": _ok("a one-time ticket", _object(["ticket", "expires_in"], ticket=_STR, expires_in=_INT)),
            **_errors(401)}}},
        "/api/rooms": {
            "get": {"responses": {"200": _ok("visible rooms", _object(["rooms"], rooms={
                "type": "array", "items": _ROOM})), **_errors(401)}},
            "post": {"requestBody": {"required": True, **_json(_object(["name"], name=_ROOM_NAME,
                                                                        private=_BOOL))},
                     "responses": {"201": _ok("created", _ROOM), **_errors(400, 401, 409)}}},
        "/api/rooms/{room_id}": {"parameters": [_ROOM_ID], "get": {"responses": {
            "200": _ok("the room", _ROOM), **_errors(401, 404)}}},
        "/api/rooms/{room_id}/members": {"parameters": [_ROOM_ID], "post": {
            # An unknown username is a 404, like an unknown room.
            "requestBody": {"required": False, **_json(_object([], username=_STR))},
            "responses": {"201": _ok("a member", _object(["room", "username"], room=_INT, username=_STR)),
                          **_errors(400, 401, 403, 404)}}},
        "/api/rooms/{room_id}/messages": {
            "parameters": [_ROOM_ID],
            "get": {"parameters": [{"name": "after", "in": "query",
                                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}},
                                   {"name": "limit", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                    "responses": {"200": _ok("history", _object(["messages", "last_seq"], messages={
                        "type": "array", "items": _MESSAGE}, last_seq=_INT)), **_errors(400, 401, 403, 404)}},
            "post": {"requestBody": {"required": True, **_json(_object(["body"], body=_BODY, nonce=_NONCE))},
                     "responses": {"201": _ok("stored", _object(["type", "seq", "duplicate"], type=_STR,
                                                                seq=_INT, duplicate=_BOOL)),
                                   **_errors(400, 401, 403, 404, 429)}}},
        "/api/rooms/{room_id}/presence": {"parameters": [_ROOM_ID], "get": {"responses": {
            "200": _ok("online", _object(["room", "online"], room=_INT, online={
                "type": "array", "items": _STR})), **_errors(401, 403, 404)}}},
    },
}
