"""Is this server reachable? The probes the test modules use before a real-server test.

Each ``*_unreachable`` function tries the server once with a short timeout and returns
why it cannot be used (a skip reason naming the server, its URL and the error), or None
when it answers; the caller skips with that reason. The servers' default URLs are defined
here once; the LAB_TEST_*_URL environment variables change them.

Memcached is not probed at a fixed URL: :func:`memcached_server` starts a private one
(the ``memcached`` binary, ``apt-get install memcached``) on a free port, so a daemon the
Debian package may have started on 11211 plays no part.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import redis
import sqlalchemy as sa
from kombu import Connection

from helpers import databases

POSTGRES = os.environ.get("LAB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("LAB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS = os.environ.get("LAB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP = os.environ.get("LAB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
NATS = os.environ.get("LAB_TEST_NATS_URL", "nats://127.0.0.1:4222")

#: Seconds a probe waits for a server to answer.
TIMEOUT = 2


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (the driver's own error, not SQLAlchemy's wrapper)."""
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [repr(error)])[0]


def _reason(what: str, url: object, error: BaseException) -> str:
    return f"{what} not reachable at {url}: {type(error).__name__}: {first_line(error)}"


def database_unreachable(url: str, expect: str | None = None) -> str | None:
    """Why the database server at ``url`` cannot be used, or None when it answers a query.

    ``expect``: a word its ``version()`` must contain (``"mariadb"``: a MySQL server is not
    MariaDB). A URL without a driver gets the project's (helpers.databases.server_url).
    """
    eng = sa.create_engine(databases.server_url(url), poolclass=sa.pool.NullPool,
                           connect_args={"connect_timeout": TIMEOUT})
    try:
        with eng.connect() as conn:
            version = str(conn.execute(sa.text("SELECT version()")).scalar())
    except Exception as error:  # any failure to connect means: skip, with the reason
        return _reason(eng.url.get_backend_name(), url, error)
    finally:
        eng.dispose()
    if expect and expect.lower() not in version.lower():
        return f"{url} is not {expect} ({version})"
    return None


def redis_unreachable(url: str = REDIS) -> str | None:
    """Why the Redis at ``url`` cannot be used, or None when it answers PING."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # any failure to connect means: skip, with the reason
        return _reason("Redis", url, error)
    return None


def broker_unreachable(url: str = AMQP) -> str | None:
    """Why the message broker at ``url`` (kombu, e.g. RabbitMQ) cannot be used, or None."""
    try:
        with Connection(url, connect_timeout=TIMEOUT) as broker:
            broker.ensure_connection(max_retries=1)
    except Exception as error:  # any failure to connect means: skip, with the reason
        return _reason("broker", url, error)
    return None


def tcp_unreachable(url: str = NATS) -> str | None:
    """Why nothing accepts a TCP connection at ``url``'s host and port (e.g. NATS), or None."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT).close()
    except OSError as error:
        return _reason(parts.scheme or "server", url, error)
    return None


#: Why the memcached tests skip where the binary is missing.
NO_MEMCACHED = "the memcached binary is not on PATH (apt-get install memcached)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def memcached_server(timeout: float = 10) -> Iterator[str]:
    """Start a private memcached on a free 127.0.0.1 port (TCP only, 64 MB), yield its
    ``memcache://`` URL once it accepts connections, and stop it afterwards.

    Call only where ``shutil.which("memcached")`` finds the binary (else: skip with
    :data:`NO_MEMCACHED`). As root, memcached refuses to run without ``-u``: it gets ``nobody``.
    """
    port = free_port()
    command = [shutil.which("memcached") or "memcached", "-l", "127.0.0.1", "-p", str(port),
               "-U", "0", "-m", "64"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command += ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
                break
            except OSError:
                if process.poll() is not None:
                    said = process.stderr.read().decode(errors="replace").strip()
                    raise RuntimeError(f"memcached did not start on port {port}: {said}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"memcached did not accept connections on port {port} "
                                       f"within {timeout:g} s") from None
                time.sleep(0.02)
        yield f"memcache://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def memcached_keys(url: str) -> list[str]:
    """Every key the memcached at ``url`` holds (``lru_crawler metadump all``, memcached >= 1.4.31)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"lru_crawler metadump all\r\n")
        data = b""
        while not data.endswith(b"END\r\n") and not data.startswith(b"ERROR"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    keys = []
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("key="):
            keys.append(unquote(line.split()[0][4:]))
    return sorted(keys)
