"""Milestone 4: the WebSocket endpoint. Authenticate on connect, then JSON frames.

Client to server::

    {"type": "join", "room": 1, "after": 0}            # history after seq 0, then live
    {"type": "send", "room": 1, "body": "hi", "nonce": "c1-1"}
    {"type": "leave", "room": 1}

Server to client: ``hello``, ``message`` (``room``, ``seq``, ``user``, ``body`` ...),
``joined`` (history sent), ``ack`` (your send is stored, with its ``seq``), ``presence``
(``online``), ``error`` (``code``, ``detail``). Every frame is JSON text, never HTML: the
body arrives exactly as it was typed, and the page that shows it sets it as text.

Resume without loss or duplicates: per room, a connection remembers the highest seq it
delivered and delivers only ``delivered + 1``. A live message further ahead means a gap
(another instance published later, or pub/sub dropped one); the gap is read from the
database, where every earlier message is already committed (see messages.py).
"""

import asyncio
import json
import secrets

from starlette.websockets import WebSocket, WebSocketDisconnect

from .auth import bearer_hash
from .errors import MAX_ID, Forbidden, NotFound

MAX_FRAME = 8 * 1024  # characters in one frame from a client
QUEUE_SIZE = 1000  # events waiting for a slow client before it is dropped (it can resume)
#: How long a gap may stay open before it is read from the database. Two instances publish
#: independently, so 8 may overtake 7 by a few milliseconds; waiting a little saves a query.
GAP_GRACE = 0.2


class Connection:
    """One authenticated socket: its rooms' positions and the queue only its writer reads."""

    def __init__(self, websocket, user, session_hash, chat):
        self.websocket, self.user, self.session_hash, self.chat = websocket, user, session_hash, chat
        self.username = user["username"]
        self.id = secrets.token_hex(8)  # unique across instances, for presence
        self.rooms = set()  # rooms joined (the reader task's view, for presence)
        # Only the writer task touches these two, so no await can find them half-changed.
        self.delivered = {}  # room id -> highest seq sent to this client
        self.waiting = {}  # room id -> {seq: message} that arrived ahead of a gap
        self.queue = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False
        self.gap_checks = set()  # rooms with a gap check scheduled

    def deliver(self, event):
        """Called by the hub for each event of a joined room (never blocks). A client so slow
        that its queue is full is cut off (1013); it reconnects and resumes from its last seq."""
        self._enqueue(("event", event))

    async def writer(self):
        """The only task that sends: history, live events in order, replies."""
        while True:
            kind, item = await self.queue.get()
            if self.overflowed:
                await self.websocket.close(code=1013, reason="too slow; reconnect and resume")
                return
            if kind == "reply":
                await self.websocket.send_json(item)
            elif kind == "join":
                await self._join(*item)
            elif kind == "leave":
                self.delivered.pop(item, None)
                self.waiting.pop(item, None)
            elif kind == "gap":
                await self._close_gap(item)
            elif item["type"] == "message":
                await self._live(item)
            elif item["room"] in self.rooms:  # presence (unordered) of a room still joined
                await self.websocket.send_json(item)

    async def _join(self, room_id, after):
        """Send the history after ``after``, then ``joined``. The hub already hands this
        connection the room's live events; those that came before this point were dropped
        (not joined yet), and they are committed, so the history read here has them."""
        if room_id not in self.delivered:
            self.delivered[room_id], self.waiting[room_id] = after, {}
        await self._fill(room_id, upto=None)
        await self.websocket.send_json({"type": "joined", "room": room_id, "seq": self.delivered[room_id]})

    async def _fill(self, room_id, upto):
        """Send the room's stored messages after the last one delivered (up to ``upto``)."""
        while True:
            after = self.delivered[room_id]
            batch = await asyncio.to_thread(self.chat.messages.read, room_id, after, 200, upto)
            for message in batch:
                await self._send_message(message)
            if len(batch) < 200:
                return

    async def _send_message(self, message):
        await self.websocket.send_json({"type": "message", **message})
        self.delivered[message["room"]] = message["seq"]

    async def _live(self, message):
        room_id, seq = message["room"], message["seq"]
        if room_id not in self.delivered or seq <= self.delivered[room_id]:
            return  # not joined (any more), or a duplicate of what history already sent
        self.waiting[room_id][seq] = message
        await self._flush(room_id)
        if self.waiting[room_id] and room_id not in self.gap_checks:  # a gap: check again soon
            self.gap_checks.add(room_id)
            asyncio.get_running_loop().call_later(GAP_GRACE, self._enqueue, ("gap", room_id))

    async def _flush(self, room_id):
        """Send the waiting messages that now follow on; forget those already sent."""
        waiting = self.waiting[room_id]
        while self.delivered[room_id] + 1 in waiting:
            await self._send_message(waiting.pop(self.delivered[room_id] + 1))
        for old in [s for s in waiting if s <= self.delivered[room_id]]:
            del waiting[old]

    async def _close_gap(self, room_id):
        """Still a gap after the grace period: every message before the first waiting one is
        committed (messages.py), so read them from the database."""
        self.gap_checks.discard(room_id)
        if room_id in self.delivered and self.waiting[room_id]:
            await self._fill(room_id, upto=min(self.waiting[room_id]) - 1)
            await self._flush(room_id)

    def _enqueue(self, item):
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True

    def reply(self, data):
        self._enqueue(("reply", data))

    def reply_later(self, item):
        """Queue a ``join`` or ``leave`` for the writer, behind what is already queued."""
        self._enqueue(item)


async def authenticate(websocket, chat):
    """The session behind the handshake (``Authorization: Bearer`` or ``?ticket=``), or None."""
    session_hash = bearer_hash(websocket.headers)
    if session_hash is None:
        session_hash = await chat.tickets.redeem(websocket.query_params.get("ticket"))
    if session_hash is None:
        return None, None
    return session_hash, await asyncio.to_thread(chat.accounts.user_for, session_hash)


async def watch_session(connection):
    """Close a socket whose session has ended (logout, expiry), even one that only listens:
    re-check every SESSION_RECHECK seconds."""
    chat = connection.chat
    while True:
        await asyncio.sleep(chat.config["SESSION_RECHECK"])
        if await asyncio.to_thread(chat.accounts.user_for, connection.session_hash) is None:
            await connection.websocket.close(code=1008, reason="session ended")
            return


async def endpoint(websocket: WebSocket):
    chat = websocket.app.state.chat
    await chat.start()
    session_hash, user = await authenticate(websocket, chat)
    if user is None:
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    connection = Connection(websocket, user, session_hash, chat)
    writer = asyncio.create_task(connection.writer())
    watchdog = asyncio.create_task(watch_session(connection))
    connection.reply({"type": "hello", "user": user})
    try:
        while not writer.done():
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            if frame.get("text") is None:
                await websocket.close(code=1003, reason="text frames only")
                break
            if len(frame["text"]) > MAX_FRAME:
                await websocket.close(code=1009, reason="frame too big")
                break
            if not await handle(connection, frame["text"]):
                await websocket.close(code=1008, reason="session ended")
                break
    except WebSocketDisconnect:
        pass
    finally:
        writer.cancel()
        watchdog.cancel()
        for room_id in list(connection.rooms):
            await chat.hub.leave(room_id, connection)
        failure = writer.exception() if writer.done() and not writer.cancelled() else None
        # The client going away mid-send is normal; anything else is a bug the server should record.
        if failure is not None and not isinstance(failure, (WebSocketDisconnect, OSError, RuntimeError)):
            raise failure


def error(code, detail, **extra):
    return {"type": "error", "code": code, "detail": detail, **extra}


async def handle(connection, text):
    """Act on one client frame; False if the session is no longer valid."""
    chat, user = connection.chat, connection.user
    try:
        data = json.loads(text)
    except ValueError:
        connection.reply(error("bad_json", "frames are JSON objects"))
        return True
    if not isinstance(data, dict) or data.get("type") not in ("join", "send", "leave"):
        connection.reply(error("bad_type", "type: join, send or leave"))
        return True
    room_id = data.get("room")
    if not isinstance(room_id, int) or isinstance(room_id, bool):
        connection.reply(error("bad_room", "room: a room id"))
        return True
    # The session may have ended (logout, expiry) since the socket opened.
    if await asyncio.to_thread(chat.accounts.user_for, connection.session_hash) is None:
        return False
    if data["type"] == "send":
        result = await chat.send(user, room_id, data.get("body"), data.get("nonce"))
        connection.reply({**result, "room": room_id, "nonce": data.get("nonce")})
        return True
    try:
        await asyncio.to_thread(chat.rooms.require_member, user["id"], room_id)
    except NotFound:
        connection.reply(error("not_found", "no such room", room=room_id))
        return True
    except Forbidden as denied:
        connection.reply(error("forbidden", str(denied), room=room_id))
        return True
    # Joins and leaves are limited like sends: each one publishes a presence update to everyone.
    if await chat.limiter.hit(f"commands:{user['id']}"):
        connection.reply(error("rate_limited", "too many joins and leaves", room=room_id))
        return True
    if data["type"] == "join":
        after = data.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
            connection.reply(error("bad_after", "after: the last seq you saw, 0 or more", room=room_id))
            return True
        if room_id not in connection.rooms:  # joining twice changes nothing
            connection.rooms.add(room_id)
            await chat.hub.enter(room_id, connection)  # subscribed before the history is read
        connection.reply_later(("join", (room_id, after)))
    elif room_id in connection.rooms:  # leave
        connection.rooms.discard(room_id)
        connection.reply_later(("leave", room_id))
        await chat.hub.leave(room_id, connection)
    return True
