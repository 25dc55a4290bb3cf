"""Key prefixes that keep runs apart on a shared cache server, and their clean-up at exit.

Redis (:mod:`helpers.keyvalue`) and Memcached (:mod:`helpers.memcached`) keys live on a
server other runs may share (a learner's notebooks, parallel test processes). Each run
makes its keys under a fresh ``<label>:<random>`` prefix (with ``LAB_RUN_ID`` in it when
set, as the test suite does), and every namespace made in a process has its keys deleted
when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import threading
from typing import Protocol, TypeVar

#: Optional run id put in every prefix (the test suite sets one).
RUN_VAR = "LAB_RUN_ID"


class Clearable(Protocol):
    def clear(self) -> int: ...


N = TypeVar("N", bound=Clearable)


def new_prefix(label: str) -> str:
    """A fresh ``<label>:<run id_><8 hex digits>`` prefix."""
    run = re.sub(r"[^a-z0-9]", "", os.environ.get(RUN_VAR, "").lower())[:20]
    return f"{label}:{run + '_' if run else ''}{secrets.token_hex(4)}"


class AtExit:
    """The namespaces made in this process, each cleared by :meth:`clear_all` (also at exit)."""

    def __init__(self) -> None:
        self._namespaces: list[Clearable] = []
        self._lock = threading.Lock()
        atexit.register(self.clear_all)

    def add(self, ns: N) -> N:
        with self._lock:
            self._namespaces.append(ns)
        return ns

    def clear_all(self) -> None:
        with self._lock:
            spaces = list(self._namespaces)
            self._namespaces.clear()
        for ns in spaces:
            with contextlib.suppress(Exception):  # at exit, a server may already be gone
                ns.clear()
