"""Milestone 5: a per-user rate limit kept in Redis, so both instances count together."""

import math
import secrets


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key (a sliding window).

    Each key is a Redis sorted set of event times. One MULTI transaction drops the old
    times, adds this one and counts: two instances hitting the same key at once cannot
    both see "one left". A refused event removes itself, so being refused costs nothing.
    """

    def __init__(self, redis, prefix, limit, window, clock):
        self.redis, self.prefix = redis, prefix
        self.limit, self.window, self.clock = limit, window, clock

    async def hit(self, key):
        """Record an event for ``key``: 0 if allowed, else the seconds to wait (at least 1)."""
        now = self.clock()
        zkey = f"{self.prefix}:rate:{key}"
        member = f"{now}:{secrets.token_hex(4)}"  # unique, so two events at one instant both count
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(zkey, "-inf", now - self.window)
            pipe.zadd(zkey, {member: now})
            pipe.zcard(zkey)
            pipe.zrange(zkey, 0, 0, withscores=True)
            pipe.expire(zkey, math.ceil(self.window) + 1)
            _, _, count, oldest, _ = await pipe.execute()
        if count <= self.limit:
            return 0
        await self.redis.zrem(zkey, member)
        return max(1, math.ceil(oldest[0][1] + self.window - now))
