"""The reference chat of step 10c: the app factory that wires the modules together.

This package is what the capstone's project notebook has a learner write to ``chat/``
with ``%%writefile``. The walkthrough (``notebooks/10c-chat.ipynb``) serves it twice,
as two instances sharing one database and one Redis, with
``helpers.chat_lab.start_pair("helpers.chat_app")``.

Modules: ``db`` (tables, engine), ``errors`` (NotFound, Forbidden), ``auth`` (accounts,
sessions, tickets), ``rooms`` (rooms, membership), ``messages`` (storage, numbering,
history), ``limits`` (rate limit), ``hub`` (Redis fan-out, presence), ``ws`` (the
WebSocket endpoint), ``api`` (the HTTP routes). The project writes ``auth``, ``rooms``,
``messages``, ``ws`` and ``limits`` one milestone at a time, so the factory serves the
modules written so far (:func:`written`).
"""

import asyncio
import contextlib
import importlib
import importlib.util
import os
import tempfile
import time

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from .db import create_tables, engine_from_env
from .errors import Forbidden, NotFound
from .hub import Hub

DEFAULTS = {
    "ENGINE": None,  # an SQLAlchemy engine; None: DATABASE_URL, else chat.sqlite in a temp folder
    "REDIS": None,  # a function returning an asyncio Redis client; None: REDIS_URL, else fakeredis
    "PREFIX": "chat",  # Redis keys and channels start with it (instances of one chat share it)
    "CLOCK": time.time,  # sessions, tickets and the rate limit read it; tests pass a fake one
    "SESSION_SECONDS": 30 * 60,
    "TICKET_SECONDS": 30,
    "SESSION_RECHECK": 30.0,  # seconds between checks that an open socket's session is still live
    "RATE_LIMIT": (20, 10.0),  # messages per user per this many seconds, across instances
    "LOGIN_LIMIT": (10, 15 * 60.0),  # login attempts per username
    "ARGON2": {},  # argon2-cffi's defaults; tests pass cheaper ones
}


def written(name):
    """The module ``<this package>.<name>``, or None if it is not written yet (the project
    writes one module per milestone; the app serves what is there)."""
    if importlib.util.find_spec(f"{__name__}.{name}") is None:
        return None
    return importlib.import_module(f"{__name__}.{name}")


class NoLimit:
    """The rate limiter until ``limits.py`` is written: never says wait."""

    async def hit(self, key):
        return 0


def default_redis():
    """A Redis client for REDIS_URL, else an in-process fakeredis (one instance only: two
    instances share a fake server only if they are given the same one, as chat_lab does)."""
    url = os.environ.get("REDIS_URL")
    if url:
        import redis.asyncio

        return redis.asyncio.Redis.from_url(url, decode_responses=True)
    import fakeredis

    return fakeredis.FakeAsyncRedis(decode_responses=True)


class Chat:
    """Everything one instance holds; routes reach it as ``request.app.state.chat``."""

    def __init__(self, config):
        self.config = config
        engine = config["ENGINE"] or engine_from_env(
            os.path.join(tempfile.mkdtemp(prefix="chat-"), "chat.sqlite"))
        create_tables(engine)
        clock = config["CLOCK"]
        self.engine = engine
        from .auth import Accounts  # milestone 1: every test runs after it

        self.accounts = Accounts(engine, clock, config["SESSION_SECONDS"], config["ARGON2"])
        rooms, messages = written("rooms"), written("messages")
        self.rooms = rooms.Rooms(engine) if rooms else None
        self.messages = messages.Messages(engine, clock) if messages else None
        self.hub = Hub(config["REDIS"] or default_redis, config["PREFIX"])

    async def start(self):
        """Connect to Redis (first call, in the server's event loop)."""
        redis = await self.hub.start()
        if not hasattr(self, "limiter"):
            from .auth import Tickets

            prefix, clock, limits = self.config["PREFIX"], self.config["CLOCK"], written("limits")
            self.limiter, self.login_limiter = NoLimit(), NoLimit()
            if limits:
                self.limiter = limits.RateLimiter(redis, prefix, *self.config["RATE_LIMIT"], clock)
                self.login_limiter = limits.RateLimiter(redis, prefix + ":login", *self.config["LOGIN_LIMIT"],
                                                        clock)
            self.tickets = Tickets(redis, prefix, clock, self.config["TICKET_SECONDS"])

    async def aclose(self):
        await self.hub.aclose()

    async def send(self, user, room_id, body, nonce=None):
        """Check, limit, store and fan out one message: an ``ack`` or an ``error`` dict."""
        try:
            await asyncio.to_thread(self.rooms.require_member, user["id"], room_id)
        except NotFound:
            return {"type": "error", "code": "not_found", "detail": "no such room"}
        except Forbidden as denied:
            return {"type": "error", "code": "forbidden", "detail": str(denied)}
        wait = await self.limiter.hit(f"user:{user['id']}")
        if wait:
            return {"type": "error", "code": "rate_limited", "detail": "too many messages",
                    "retry_after": wait}
        try:
            message, created = await asyncio.to_thread(self.messages.store, user["id"], room_id, body, nonce)
        except ValueError as invalid:
            return {"type": "error", "code": "invalid", "detail": str(invalid)}
        if created:
            await self.hub.publish(room_id, {"type": "message", **message})
        return {"type": "ack", "seq": message["seq"], "duplicate": not created}


@contextlib.asynccontextmanager
async def _lifespan(app):
    """Under a server that runs the lifespan protocol (uvicorn does): close Redis at shutdown."""
    yield
    await app.state.chat.aclose()


def create_app(config=None):
    """Build one instance; ``config`` overrides :data:`DEFAULTS`."""
    settings = {**DEFAULTS, **(config or {})}
    from . import api

    ws = written("ws")
    routes = [*api.routes, *([WebSocketRoute("/ws", ws.endpoint)] if ws else [])]
    app = Starlette(routes=routes, exception_handlers=api.exception_handlers, middleware=api.middleware,
                    lifespan=_lifespan)
    app.state.chat = Chat(settings)
    return app
