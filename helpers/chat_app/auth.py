"""Milestone 1: accounts, sessions and one-time WebSocket tickets.

HTTP requests carry ``Authorization: Bearer <session token>``, never a cookie, so a
cross-site page cannot make a browser send them (no CSRF). A browser cannot set headers
on a WebSocket, so it first trades its token for a *ticket* (``POST /api/tickets``) and
connects to ``/ws?ticket=...``. A URL ends up in access logs and proxies, which is why a
ticket is useless once seen: it works once, for 30 seconds, and only opens a socket.
"""

import hashlib
import re
import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .db import sessions, users

USERNAME = re.compile(r"[A-Za-z0-9_]{3,30}")
MIN_PASSWORD, MAX_PASSWORD = 12, 128


def token_hash(token):
    """What the database and Redis store instead of a token or ticket: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users and sessions in the database (blocking calls: run them in a thread)."""

    def __init__(self, engine, clock, session_seconds, argon2):
        self.engine, self.clock, self.session_seconds = engine, clock, session_seconds
        self.hasher = PasswordHasher(**argon2)
        # Verified when the username is unknown, so it costs what a wrong password costs.
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def register(self, username, password):
        """Create a user and return their id; ValueError if invalid or taken."""
        if not isinstance(username, str) or not USERNAME.fullmatch(username):
            raise ValueError("username: 3 to 30 letters, digits or _")
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise ValueError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        try:
            with self.engine.begin() as conn:
                return conn.execute(sa.insert(users).values(
                    username=username, password_hash=self.hasher.hash(password))).inserted_primary_key[0]
        except sa.exc.IntegrityError as error:
            raise ValueError("username taken") from error

    def login(self, username, password):
        """A new session token for the right password, else None (same work either way)."""
        with self.engine.connect() as conn:
            user = conn.execute(sa.select(users.c.id, users.c.password_hash)
                                .where(users.c.username == username)).first()
        stored = user.password_hash if user else self.dummy_hash
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= self.clock()))
            conn.execute(sa.insert(sessions).values(token_hash=token_hash(token), user_id=user.id,
                                                    expires_at=self.clock() + self.session_seconds))
        return token

    def user_for(self, session_hash):
        """``{"id", "username"}`` of a live session (by its hash), else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.id, users.c.username).join(sessions, sessions.c.user_id == users.c.id)
                .where(sessions.c.token_hash == session_hash, sessions.c.expires_at > self.clock())).first()
        return None if row is None else {"id": row.id, "username": row.username}

    def logout(self, session_hash):
        with self.engine.begin() as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.token_hash == session_hash))


def bearer_hash(headers):
    """The hash of the ``Authorization: Bearer`` token in ``headers``, or None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token_hash(token.strip())


class Tickets:
    """One-time tickets in Redis: each stands for a session, works once, and expires."""

    def __init__(self, redis, prefix, clock, seconds):
        self.redis, self.prefix, self.clock, self.seconds = redis, prefix, clock, seconds

    async def issue(self, session_hash):
        ticket = secrets.token_urlsafe(32)
        await self.redis.set(f"{self.prefix}:ticket:{token_hash(ticket)}",
                             f"{session_hash} {self.clock() + self.seconds}", ex=int(self.seconds) + 1)
        return ticket

    async def redeem(self, ticket):
        """The session hash the ticket stands for, or None; the ticket is spent either way."""
        if not ticket or len(ticket) > 100:
            return None
        value = await self.redis.getdel(f"{self.prefix}:ticket:{token_hash(ticket)}")  # atomic: once
        if value is None:
            return None
        session_hash, expires_at = value.split()
        return session_hash if float(expires_at) > self.clock() else None
