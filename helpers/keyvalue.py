"""A Redis client for step 03: a real Redis when ``REDIS_URL`` is set, fakeredis otherwise.

::

    from helpers.keyvalue import client, describe, namespace
    r = client()               # redis.Redis or fakeredis.FakeRedis, same API
    print(describe(r))         # says which one, so the output never pretends
    key = namespace(r)         # key("product", 7) -> "lab:1a2b3c4d:product:7"

fakeredis is an in-process imitation of Redis for tests and laptops without a
server; it speaks the same commands but is not Redis (no persistence, no network,
one process). With ``REDIS_URL=redis://127.0.0.1:6379/0`` the same code talks to a
real server. Every key a notebook writes goes through a :class:`Namespace` with a
unique prefix, so runs never collide, and :meth:`Namespace.clear` (run for every
namespace at exit) deletes them.
"""

from __future__ import annotations

import os

import redis

from helpers.key_namespaces import AtExit, new_prefix

__all__ = ["Namespace", "client", "clear_all", "describe", "is_fake", "namespace"]

ENV_VAR = "REDIS_URL"

_made = AtExit()  # the namespaces made here, cleared at exit


def client(url: str | None = None) -> redis.Redis:
    """A client that returns ``str`` (not bytes): Redis at ``url``/``REDIS_URL``, else fakeredis."""
    raw = (url if url is not None else os.environ.get(ENV_VAR, "")).strip()
    if not raw:
        import fakeredis

        return fakeredis.FakeRedis(decode_responses=True)
    try:
        r = redis.Redis.from_url(raw, decode_responses=True, socket_connect_timeout=5, socket_timeout=10)
    except ValueError as error:
        raise ValueError(
            f"{ENV_VAR}={raw!r} is not a Redis URL; use e.g. redis://127.0.0.1:6379/0, "
            "or unset it to use the embedded fakeredis."
        ) from error
    try:
        r.ping()
    except redis.ConnectionError as error:
        raise ConnectionError(
            f"Cannot reach Redis at {raw} ({error}). Start it, fix {ENV_VAR}, "
            "or unset it to use the embedded fakeredis."
        ) from None
    return r


def is_fake(r: redis.Redis) -> bool:
    """True when ``r`` is fakeredis, the embedded stand-in."""
    return type(r).__module__.startswith("fakeredis")


def describe(r: redis.Redis) -> str:
    """One line naming what ``r`` talks to."""
    if is_fake(r):
        return f"fakeredis (an embedded Redis stand-in, not a real server; set {ENV_VAR} to use Redis)"
    kwargs = r.connection_pool.connection_kwargs
    version = r.info("server")["redis_version"]
    return f"Redis {version} (server at {kwargs.get('host')}:{kwargs.get('port')}, db {kwargs.get('db', 0)})"


class Namespace:
    """Builds keys under one unique prefix and deletes them all with :meth:`clear`."""

    def __init__(self, r: redis.Redis, prefix: str) -> None:
        self.redis = r
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        """The key for ``parts``: ``key("user", 7)`` -> ``'<prefix>:user:7'``."""
        if not parts:
            raise ValueError("a key needs at least one part, e.g. key('user', 7)")
        return ":".join([self.prefix, *(str(p) for p in parts)])

    def keys(self) -> list[str]:
        """Every key currently under this prefix (SCAN, so it never blocks the server)."""
        return sorted(self.redis.scan_iter(match=f"{self.prefix}:*", count=500))

    def clear(self) -> int:
        """Delete every key under this prefix; return how many there were."""
        keys = self.keys()
        if keys:
            self.redis.delete(*keys)
        return len(keys)

    def __repr__(self) -> str:
        return f"Namespace({self.prefix!r})"


def namespace(r: redis.Redis, label: str = "lab") -> Namespace:
    """A fresh key namespace ``<label>:<random>`` on ``r``, cleared at exit."""
    return _made.add(Namespace(r, new_prefix(label)))


def clear_all() -> None:
    """Delete the keys of every namespace made in this process (also runs at exit)."""
    _made.clear_all()
