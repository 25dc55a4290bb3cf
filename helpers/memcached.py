"""A Memcached client for step 11b: a real memcached when ``MEMCACHED_URL`` is set,
pymemcache's in-process stand-in otherwise.

::

    from helpers import memcached
    mc = memcached.client()         # pymemcache Client or MockMemcacheClient, same calls
    print(memcached.describe(mc))   # says which one, so the output never pretends
    key = memcached.namespace(mc)   # key("page", "/") -> "lab:1a2b3c4d:page:/"

With ``MEMCACHED_URL=memcache://127.0.0.1:11211`` (``memcached://`` works too; the port
defaults to 11211) the client is ``pymemcache.client.base.Client`` talking to that server.
Without it, it is ``pymemcache.test.utils.MockMemcacheClient``, pymemcache's own stand-in
(public API): a dict in this process where ``get``, ``set`` with ``expire=``, ``add``,
``delete``, ``incr``/``decr`` and ``get_many``/``set_many`` answer as the server does. It is
not memcached: no network, no 1 MB item limit, no eviction, no ``gets``/``cas``, ``decr``
goes below zero (the server stops at 0), and its ``add`` and ``incr`` are a read then a
write in Python, not atomic across threads.

The server stores bytes and a 32-bit ``flags`` number per item, nothing else. Both
clients get :data:`SERDE`: bytes are stored as they are, ``str`` as UTF-8 bytes (and come
back as bytes), ``int`` as decimal digits flagged as an integer (so ``get`` returns an
``int`` and ``incr`` works on the stand-in too); anything else is refused with a
``TypeError``: serialise it yourself (``json.dumps``). No pickle, which would run code
written by anyone who can write to the cache.

Pass ``noreply=False`` to ``add`` and ``delete`` to learn whether they did anything:
pymemcache's default (``noreply=True``) does not wait for the answer and returns True.
Memcached cannot list its keys, so a :class:`Namespace` remembers the keys it made and
:meth:`Namespace.clear` (run for every namespace at exit) deletes them.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from pymemcache.client.base import Client
from pymemcache.serde import FLAG_BYTES, FLAG_INTEGER
from pymemcache.test.utils import MockMemcacheClient

from helpers.key_namespaces import AtExit, new_prefix

__all__ = ["SERDE", "Namespace", "client", "clear_all", "describe", "is_fake", "namespace"]

ENV_VAR = "MEMCACHED_URL"
DEFAULT_PORT = 11211
SCHEMES = ("memcache", "memcached")


class BytesSerde:
    """pymemcache serde: bytes as they are, ``str`` as UTF-8 bytes, ``int`` as digits; nothing else."""

    def serialize(self, key: bytes, value: object) -> tuple[bytes, int]:
        if type(value) is bytes:
            return value, FLAG_BYTES
        if type(value) is str:
            return value.encode("utf-8"), FLAG_BYTES
        if type(value) is int:  # not bool: True would come back as 1
            return str(value).encode("ascii"), FLAG_INTEGER
        raise TypeError(
            f"memcached stores bytes, not {type(value).__name__}: serialise it first "
            "(e.g. json.dumps(value).encode()) and store the result as one value"
        )

    def deserialize(self, key: bytes, value: bytes, flags: int) -> bytes | int:
        return int(value) if flags == FLAG_INTEGER else value


#: The serde both clients use (see the module docstring).
SERDE = BytesSerde()

_made = AtExit()  # the namespaces made here, cleared at exit


def parse_url(url: str) -> tuple[str, int]:
    """``(host, port)`` from ``memcache://HOST[:PORT]``; ValueError, saying the form, otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or parts.path.strip("/"):
        raise ValueError(
            f"{ENV_VAR}={url!r} is not a memcached URL; use e.g. memcache://127.0.0.1:11211, "
            "or unset it to use pymemcache's in-process stand-in."
        )
    return parts.hostname, port


def client(url: str | None = None) -> Client | MockMemcacheClient:
    """Memcached at ``url``/``MEMCACHED_URL`` (checked with ``version``), else the stand-in."""
    raw = (url if url is not None else os.environ.get(ENV_VAR, "")).strip()
    if not raw:
        return MockMemcacheClient(serde=SERDE, encoding="utf-8")
    host, port = parse_url(raw)
    mc = Client((host, port), serde=SERDE, connect_timeout=5, timeout=10,
                default_noreply=False, encoding="utf-8")
    try:
        mc.version()
    except OSError as error:
        mc.close()
        raise ConnectionError(
            f"Cannot reach memcached at {raw} ({error}). Start it (memcached -l 127.0.0.1), "
            f"fix {ENV_VAR}, or unset it to use pymemcache's in-process stand-in."
        ) from None
    return mc


def is_fake(mc: object) -> bool:
    """True when ``mc`` is pymemcache's in-process stand-in."""
    return isinstance(mc, MockMemcacheClient)


def describe(mc: Client | MockMemcacheClient) -> str:
    """One line naming what ``mc`` talks to."""
    if is_fake(mc):
        return (f"MockMemcacheClient (pymemcache's in-process Memcached stand-in, not a real server; "
                f"set {ENV_VAR} to use memcached)")
    host, port = mc.server
    return f"Memcached {mc.version().decode()} (server at {host}:{port})"


class Namespace:
    """Builds keys under one unique prefix, remembers them, and deletes them with :meth:`clear`."""

    def __init__(self, mc: Client | MockMemcacheClient, prefix: str) -> None:
        self.client = mc
        self.prefix = prefix
        self.made: set[str] = set()

    def __call__(self, *parts: object) -> str:
        """The key for ``parts``: ``key("user", 7)`` -> ``'<prefix>:user:7'``."""
        if not parts:
            raise ValueError("a key needs at least one part, e.g. key('user', 7)")
        key = ":".join([self.prefix, *(str(p) for p in parts)])
        self.made.add(key)
        return key

    def remaining(self) -> list[str]:
        """The keys made here (before or after :meth:`clear`) that the server still holds."""
        return sorted(self.client.get_many(sorted(self.made))) if self.made else []

    def clear(self) -> int:
        """Delete every key made here; return how many the server still held."""
        return sum(bool(self.client.delete(key, noreply=False)) for key in sorted(self.made))

    def __repr__(self) -> str:
        return f"Namespace({self.prefix!r})"


def namespace(mc: Client | MockMemcacheClient, label: str = "lab") -> Namespace:
    """A fresh key namespace ``<label>:<random>`` on ``mc``, cleared at exit."""
    return _made.add(Namespace(mc, new_prefix(label)))


def clear_all() -> None:
    """Delete the keys of every namespace made in this process (also runs at exit)."""
    _made.clear_all()
