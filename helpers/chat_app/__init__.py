"""The reference chat of step 10c: the app factory that wires the modules together.

This package is what the capstone's project notebook has a learner write to ``chat/``
with ``%%writefile``. The walkthrough (``notebooks/10c-chat.ipynb``) serves it twice,
as two instances sharing one database and one Redis, with
``helpers.chat_lab.start_pair("helpers.chat_app")``.

Modules: ``db`` (tables, engine), ``auth`` (accounts, sessions, tickets), ``rooms``
(rooms, membership), ``messages`` (storage, numbering, history), ``limits`` (rate
limit), ``hub`` (Redis fan-out, presence), ``ws`` (the WebSocket endpoint), ``api``
(the HTTP routes).
"""

import asyncio
import contextlib
import os
import tempfile
import time

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from . import api, ws
from .auth import Accounts, Tickets
from .db import create_tables, engine_from_env
from .hub import Hub
from .limits import RateLimiter
from .messages import Messages
from .rooms import Forbidden, NotFound, Rooms

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
        self.accounts = Accounts(engine, clock, config["SESSION_SECONDS"], config["ARGON2"])
        self.rooms = Rooms(engine)
        self.messages = Messages(engine, clock)
        self.hub = Hub(config["REDIS"] or default_redis, config["PREFIX"])

    async def start(self):
        """Connect to Redis (first call, in the server's event loop)."""
        redis = await self.hub.start()
        if not hasattr(self, "limiter"):
            prefix, clock = self.config["PREFIX"], self.config["CLOCK"]
            self.limiter = RateLimiter(redis, prefix, *self.config["RATE_LIMIT"], clock)
            self.login_limiter = RateLimiter(redis, prefix + ":login", *self.config["LOGIN_LIMIT"], clock)
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
    app = Starlette(routes=[*api.routes, WebSocketRoute("/ws", ws.endpoint)],
                    exception_handlers=api.exception_handlers, middleware=api.middleware, lifespan=_lifespan)
    app.state.chat = Chat(settings)
    return app
