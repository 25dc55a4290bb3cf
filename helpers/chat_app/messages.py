"""Milestone 3: messages in the database, numbered per room, read back from any point.

Sending takes the room's row lock first (``UPDATE rooms SET last_seq = last_seq + 1``),
so two sends to one room commit in the order of their numbers: when message 7 is
committed, 6 is too. That is what lets a receiver fill a gap from the database.
"""

import re

import sqlalchemy as sa

from .db import messages, rooms, users

MAX_BODY = 2000  # characters
NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# C0 and C1 control characters except tab and newline, and the Unicode bidirectional
# overrides that make text display in a different order than it is stored.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def check_body(body):
    """The body to store, unchanged; ValueError if it is not acceptable text."""
    if not isinstance(body, str) or not body.strip():
        raise ValueError("body: non-blank text")
    if len(body) > MAX_BODY:
        raise ValueError(f"body: at most {MAX_BODY} characters")
    if FORBIDDEN.search(body):
        raise ValueError("body: control characters are not allowed")
    return body


def check_nonce(nonce):
    if nonce is not None and (not isinstance(nonce, str) or not NONCE.fullmatch(nonce)):
        raise ValueError("nonce: 1 to 64 letters, digits, _ or -")
    return nonce


def as_json(row):
    return {"room": row.room_id, "seq": row.seq, "user": row.username, "body": row.body,
            "nonce": row.nonce, "created": round(row.created, 3)}


_COLUMNS = (messages.c.room_id, messages.c.seq, users.c.username, messages.c.body, messages.c.nonce,
            messages.c.created)


class Messages:
    def __init__(self, engine, clock):
        self.engine, self.clock = engine, clock

    def store(self, user_id, room_id, body, nonce=None):
        """Store a message (the caller checked membership); ``(message, created)``.

        A nonce the user already sent returns that message and ``created=False``: a client
        that retries after a lost acknowledgement does not post twice.
        """
        body, nonce = check_body(body), check_nonce(nonce)
        if nonce is not None:
            earlier = self._by_nonce(user_id, nonce)
            if earlier is not None:
                return earlier, False
        try:
            with self.engine.begin() as conn:
                # The first statement writes: the room's row (SQLite: the database) is locked until commit.
                conn.execute(sa.update(rooms).where(rooms.c.id == room_id)
                             .values(last_seq=rooms.c.last_seq + 1))
                seq = conn.execute(sa.select(rooms.c.last_seq).where(rooms.c.id == room_id)).scalar_one()
                conn.execute(sa.insert(messages).values(room_id=room_id, seq=seq, user_id=user_id,
                                                        body=body, nonce=nonce, created=self.clock()))
        except sa.exc.IntegrityError:
            earlier = self._by_nonce(user_id, nonce) if nonce is not None else None
            if earlier is None:
                raise
            return earlier, False  # the same nonce raced in from another connection
        return self.read(room_id, seq - 1, 1)[0], True

    def _by_nonce(self, user_id, nonce):
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_COLUMNS).join(users, users.c.id == messages.c.user_id)
                               .where(messages.c.user_id == user_id, messages.c.nonce == nonce)).first()
        return None if row is None else as_json(row)

    def read(self, room_id, after=0, limit=100, upto=None):
        """Up to ``limit`` messages of the room with ``after < seq`` (``<= upto``), oldest first."""
        query = (sa.select(*_COLUMNS).join(users, users.c.id == messages.c.user_id)
                 .where(messages.c.room_id == room_id, messages.c.seq > after))
        if upto is not None:
            query = query.where(messages.c.seq <= upto)
        with self.engine.connect() as conn:
            return [as_json(r) for r in conn.execute(query.order_by(messages.c.seq).limit(limit))]
