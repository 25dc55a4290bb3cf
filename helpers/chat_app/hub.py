"""Given: fan-out across instances through Redis pub/sub, and presence.

Every instance subscribes once to ``<prefix>:room:*`` and hands each event to its own
connections in that room. The database, not Redis, is the record: pub/sub delivers
at most once (a subscriber that is away misses the event), so a connection that sees a
gap in the numbers reads the missing messages from the database (see ``ws.py``).
"""

import asyncio
import json
import uuid
from collections import defaultdict


class Hub:
    """This instance's connections by room, and its one Redis subscription."""

    def __init__(self, redis_factory, prefix):
        self._redis_factory, self.prefix = redis_factory, prefix
        self.redis = None
        self.local = defaultdict(set)  # room id -> connections here that joined it
        self._ready = self.loop = None
        self.closed = False
        self._wake = f"{prefix}:hub:{uuid.uuid4().hex}"  # this instance's own channel (see aclose)

    async def start(self):
        """Connect to Redis and subscribe (the first call; later calls wait for it)."""
        if self._ready is None:
            self._ready, self.loop = asyncio.Event(), asyncio.get_running_loop()
            self.redis = self._redis_factory()  # here: the client belongs to this event loop
            self._listener = asyncio.create_task(self._listen())
        await self._ready.wait()
        return self.redis

    async def _listen(self):
        pubsub = self.redis.pubsub()
        try:
            await pubsub.psubscribe(f"{self.prefix}:room:*")
            await pubsub.subscribe(self._wake)
            self._ready.set()
            # A flag, not task.cancel(): a read cancelled half-way can leave the connection unusable.
            while not self.closed:
                event = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.25)
                if event is not None and event["channel"] != self._wake:
                    data = json.loads(event["data"])
                    for connection in list(self.local.get(data["room"], ())):
                        connection.deliver(data)
        finally:
            await pubsub.aclose()

    async def aclose(self):
        """Stop listening and close the Redis connections (at shutdown)."""
        if self._ready is None or self.closed:
            return
        self.closed = True
        await self.redis.publish(self._wake, "closing")  # the listener wakes up and sees the flag
        await self._listener
        await self.redis.aclose()

    async def publish(self, room_id, event):
        """Send ``event`` (a dict with ``type``) to the room's connections on every instance."""
        await self.redis.publish(f"{self.prefix}:room:{room_id}", json.dumps({**event, "room": room_id}))

    # -- presence: a Redis set per room of "username:connection id" ------------------------

    def _presence_key(self, room_id):
        return f"{self.prefix}:presence:{room_id}"

    async def online(self, room_id):
        """The usernames with at least one connection in the room, on any instance."""
        members = await self.redis.smembers(self._presence_key(room_id))
        return sorted({member.rsplit(":", 1)[0] for member in members})

    async def enter(self, room_id, connection):
        self.local[room_id].add(connection)
        await self.redis.sadd(self._presence_key(room_id), f"{connection.username}:{connection.id}")
        await self.publish(room_id, {"type": "presence", "online": await self.online(room_id)})

    async def leave(self, room_id, connection):
        self.local[room_id].discard(connection)
        if not self.local[room_id]:
            del self.local[room_id]
        if self.closed:
            return  # shutting down; a crashed instance leaves its entries behind too (see the walkthrough)
        await self.redis.srem(self._presence_key(room_id), f"{connection.username}:{connection.id}")
        await self.publish(room_id, {"type": "presence", "online": await self.online(room_id)})
