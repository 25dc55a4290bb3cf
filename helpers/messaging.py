"""Message brokers for step 11a: kombu (RabbitMQ or in-process), Redis Streams, RQ, JetStream.

::

    from helpers import messaging
    broker = messaging.connect()          # kombu Connection: memory:// or BROKER_URL (amqp://)
    print(messaging.describe(broker))     # says which, so the output never pretends
    names = messaging.Names(broker)       # unique queue/exchange names; names.delete_all() at the end

**kombu** gives one API over many brokers. Without ``BROKER_URL`` it uses its in-process
``memory://`` transport (nothing to install; messages pass between threads of one
process); with ``BROKER_URL=amqp://guest:guest@127.0.0.1:5672//`` the same code talks to
RabbitMQ. The memory transport is a stand-in, not RabbitMQ, and differs where it matters:

- it keeps a message's *redelivered* flag in the raw message, not in ``delivery_info``
  (:func:`redelivered` reads either);
- when a consumer's connection closes with unacknowledged messages, RabbitMQ puts them
  back in the queue; the memory transport forgets them (:func:`crash` does what the
  broker would);
- it has no dead-letter exchanges or delivery limits, so bounded retries and the dead
  letter queue are done by the consumer (:func:`retry_or_dead_letter`), which works on
  any broker.

Publishing to RabbitMQ uses *publisher confirms* (``confirm_publish``): ``publish()``
returns once the broker has taken the message, so a ``get()`` right after sees it.

The module also holds what the other sections need: :func:`redis_client` (Redis Streams,
via :mod:`helpers.keyvalue`), :func:`rq_queue` and :func:`run_jobs` (RQ background jobs)
and the job :func:`send_receipt`, and :func:`jetstream_tour` (NATS JetStream, when
``NATS_URL`` is set).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
from collections import Counter
from typing import Any

from kombu import Connection, Exchange, Queue

__all__ = [
    "ATTEMPTS",
    "BROKER_VAR",
    "NATS_VAR",
    "Names",
    "attempt",
    "connect",
    "crash",
    "delete_rq_queue",
    "drain",
    "describe",
    "get_all",
    "jetstream_tour",
    "redelivered",
    "retry_or_dead_letter",
    "rq_queue",
    "run_jobs",
    "send_receipt",
]

#: Environment variable naming the AMQP broker (RabbitMQ) to use instead of memory://.
BROKER_VAR = "BROKER_URL"
#: Environment variable naming a NATS server with JetStream (optional section).
NATS_VAR = "NATS_URL"


def broker_url(url: str | None = None) -> str:
    """``url``, else ``BROKER_URL``, else ``memory://``."""
    raw = (url if url is not None else os.environ.get(BROKER_VAR, "")).strip()
    return raw or "memory://"


def connect(url: str | None = None) -> Connection:
    """A kombu Connection to ``url``/``BROKER_URL`` (default ``memory://``), connected.

    On AMQP, publisher confirms are on, so a publish returns once RabbitMQ has the message.
    On memory://, consumers poll every 10 ms (kombu's default is one second).
    """
    target = broker_url(url)
    amqp = target.startswith(("amqp", "pyamqp"))
    options = {"confirm_publish": True} if amqp else {"polling_interval": 0.01}
    conn = Connection(target, transport_options=options, connect_timeout=5)
    try:
        conn.ensure_connection(max_retries=1)
    except Exception as error:  # any failure to connect: say what to do
        conn.release()
        raise ConnectionError(
            f"Cannot reach the broker at {target} ({error}). Start it, fix {BROKER_VAR}, "
            "or unset it to use kombu's in-process memory:// transport."
        ) from None
    return conn


def is_amqp(conn: Connection) -> bool:
    """True when ``conn`` talks to an AMQP broker (RabbitMQ), False for memory://."""
    return conn.transport.driver_type == "amqp"


def describe(conn: Connection) -> str:
    """One line naming the broker ``conn`` talks to."""
    if not is_amqp(conn):
        return (f"kombu memory:// (in-process stand-in, not a real broker; set {BROKER_VAR} "
                "to use RabbitMQ)")
    server = conn.connection.server_properties
    version = server.get("version", "?")
    version = version.decode() if isinstance(version, bytes) else version
    return f"RabbitMQ {version} (server at {conn.hostname}:{conn.port or 5672})"


class Names:
    """Queue and exchange names of this run's own, and their removal.

    On RabbitMQ queues outlive the program, so every name gets a unique prefix
    (``lab-<random>-``) and :meth:`delete_all` removes what was declared. ``short(name)``
    strips the prefix for printing, so outputs do not show the random part.
    """

    def __init__(self, conn: Connection, label: str = "lab") -> None:
        run = re.sub(r"[^a-z0-9]", "", os.environ.get("LAB_RUN_ID", "").lower())[:20]
        self.conn = conn
        self.prefix = f"{label}-{run + '_' if run else ''}{secrets.token_hex(4)}-"
        self.queues: list[Queue] = []
        self.exchanges: list[Exchange] = []

    def exchange(self, name: str, type: str = "direct") -> Exchange:
        """A durable exchange ``name`` of ``type`` (direct, topic, fanout), declared."""
        ex = Exchange(self.prefix + name, type=type, durable=True)
        ex.declare(channel=self.conn.default_channel)
        self.exchanges.append(ex)
        return ex

    def queue(self, name: str, exchange: Exchange | None = None, routing_key: str | None = None,
              **arguments: Any) -> Queue:
        """A durable queue ``name`` bound to ``exchange`` with ``routing_key``, declared.

        ``arguments`` become queue arguments, e.g. ``{"x-dead-letter-exchange": ...}``
        (RabbitMQ applies them; the memory transport ignores them).
        """
        q = Queue(self.prefix + name, exchange, routing_key=routing_key or name, durable=True,
                  queue_arguments={k.replace("_", "-"): v for k, v in arguments.items()} or None,
                  channel=self.conn.default_channel)
        q.declare()
        self.queues.append(q)
        return q

    def short(self, name: str) -> str:
        """``name`` without this run's prefix."""
        return name.removeprefix(self.prefix)

    def delete_all(self) -> None:
        """Delete every queue and exchange declared through this object."""
        channel = self.conn.default_channel
        for q in self.queues:
            q.bind(channel).delete()
        for ex in self.exchanges:
            ex.bind(channel).delete()
        self.queues.clear()
        self.exchanges.clear()


def get_all(queue: Queue, ack: bool = True) -> list[Any]:
    """Take every message waiting in ``queue`` with ``basic_get`` (no waiting); their bodies.

    With ``ack=False`` the messages are returned as kombu Messages, unacknowledged.
    """
    taken = []
    while (message := queue.get(no_ack=False)) is not None:
        if ack:
            message.ack()
            taken.append(message.payload)
        else:
            taken.append(message)
    return taken


def drain(conn: Connection, idle: float = 0.1) -> int:
    """Deliver to ``conn``'s consumers until nothing arrives for ``idle`` seconds; return how many.

    The only wait in this module: proving that *no* message comes needs a deadline.
    """
    delivered = 0
    while True:
        try:
            conn.drain_events(timeout=idle)
        except TimeoutError:
            return delivered
        delivered += 1


def redelivered(message: Any) -> bool:
    """True if the broker delivered ``message`` before (the AMQP ``redelivered`` flag)."""
    if "redelivered" in message.delivery_info:
        return bool(message.delivery_info["redelivered"])
    raw = getattr(message, "_raw", None)  # kombu's virtual transports keep it in the raw message
    return bool(isinstance(raw, dict) and raw.get("redelivered"))


def crash(conn: Connection) -> None:
    """A consumer process dies holding unacknowledged messages: its connection is gone.

    RabbitMQ notices the closed connection and puts the unacknowledged messages back in
    their queues, flagged redelivered. kombu's memory transport would drop them, so here
    they are put back first, as the broker would.
    """
    if not is_amqp(conn):
        for channel in list(getattr(conn.transport, "channels", [])):
            channel.qos.restore_unacked()
    conn.release()


def attempt(message: Any) -> int:
    """Which attempt at ``message`` this is: its ``x-attempts`` header, 1 when it has none."""
    return int((message.headers or {}).get("x-attempts", 1))


def retry_or_dead_letter(message: Any, producer: Any, error: Exception, *, retry_to: Queue,
                         dead_letters: Queue, max_attempts: int) -> str:
    """After a failed attempt: publish ``message`` again with its attempt count, or dead-letter it.

    The count travels in the ``x-attempts`` header. Below ``max_attempts`` the message goes
    back to ``retry_to`` (a real system waits first: a delay queue or a per-message TTL);
    at ``max_attempts`` it goes to ``dead_letters`` with the error, for a person to look at.
    The original is acknowledged only after the copy is published: a crash in between
    leaves both, a duplicate, never a loss. Returns ``"retried"`` or ``"dead-lettered"``.
    """
    attempts = attempt(message)
    if attempts < max_attempts:
        target, outcome, headers = retry_to, "retried", {"x-attempts": attempts + 1}
    else:
        target, outcome = dead_letters, "dead-lettered"
        headers = {"x-attempts": attempts, "x-error": f"{type(error).__name__}: {error}"}
    producer.publish(message.payload, exchange=target.exchange, routing_key=target.routing_key,
                     headers=headers, serializer="json")
    message.ack()
    return outcome


# --- Redis Streams --------------------------------------------------------------------------

def redis_client():
    """Redis at ``REDIS_URL`` or an embedded fakeredis (see :mod:`helpers.keyvalue`)."""
    from helpers.keyvalue import client

    return client()


# --- RQ background jobs ---------------------------------------------------------------------

#: Attempts per order made by :func:`send_receipt` in this process (the worker below runs
#: jobs in this process, so the count is shared; workers in other processes would keep it
#: in Redis).
ATTEMPTS: Counter = Counter()


class MailServerDown(Exception):
    """A temporary failure: worth retrying."""


def send_receipt(order_id: int, failures: int = 0) -> str:
    """An RQ job: e-mail a receipt for ``order_id``; the first ``failures`` attempts fail."""
    ATTEMPTS[order_id] += 1
    if ATTEMPTS[order_id] <= failures:
        raise MailServerDown(f"mail server did not answer (order {order_id}, attempt {ATTEMPTS[order_id]})")
    return f"receipt sent for order {order_id}"


def rq_queue(name: str, url: str | None = None):
    """An RQ queue called ``name`` on Redis at ``url``/``REDIS_URL``, else on a new fakeredis.

    RQ stores pickled bytes, so its client does not decode responses to ``str``.
    """
    from rq import Queue as RQQueue

    raw_url = (url if url is not None else os.environ.get("REDIS_URL", "")).strip()
    if raw_url:
        import redis

        connection = redis.Redis.from_url(raw_url, socket_connect_timeout=5, socket_timeout=10)
    else:
        import fakeredis

        connection = fakeredis.FakeRedis()
    return RQQueue(name, connection=connection)


def run_jobs(queue) -> None:
    """Run every job in ``queue`` (and their retries) in this process, then return.

    RQ's ``SimpleWorker`` in burst mode: no fork, and it stops when the queue is empty.
    Where ``SIGALRM`` does not exist (Windows), job timeouts use a timer thread instead.
    """
    from rq import SimpleWorker

    worker = SimpleWorker([queue], connection=queue.connection)
    if not hasattr(signal, "SIGALRM"):
        from rq.timeouts import TimerDeathPenalty

        worker.death_penalty_class = TimerDeathPenalty
    worker.work(burst=True, logging_level="CRITICAL", with_scheduler=False)


def _glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis SCAN pattern (``*``, ``?``, ``[``, ``]``, ``\\`` escaped)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def delete_rq_queue(queue, jobs=()) -> list[str]:
    """Remove ``queue``'s keys and those of ``jobs`` from Redis; return the keys removed.

    RQ keeps a queue's jobs, results and registries under ``rq:...`` keys named after the
    queue or the job id; a real Redis keeps them until deleted (or until their TTL).
    """
    r = queue.connection
    keys = {k.decode() for k in r.scan_iter(match=f"rq:*{_glob_escape(queue.name)}*", count=500)}
    for job in jobs:
        keys |= {k.decode() for k in r.scan_iter(match=f"rq:*{_glob_escape(job.id)}*", count=500)}
    if keys:
        r.delete(*sorted(keys))
    r.srem("rq:queues", queue.key)  # RQ's list of known queues
    return sorted(keys)


# --- NATS JetStream (optional) --------------------------------------------------------------

async def jetstream_tour(url: str, orders: int = 3) -> dict[str, Any]:
    """The stream-and-consumer-group story on NATS JetStream, with the facts it showed.

    A stream stores the ``subject``'s messages; ``Nats-Msg-Id`` lets the server drop a
    republished duplicate; a durable pull consumer is JetStream's consumer group (its
    position survives restarts); a message not acknowledged is delivered again
    (``num_delivered`` counts); acknowledging after processing moves the ack floor.
    Creates a stream of its own and deletes it.
    """
    import nats

    nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0, allow_reconnect=False)
    js = nc.jetstream()
    name = f"LAB_{secrets.token_hex(4).upper()}"
    subject = f"{name.lower()}.orders"
    facts: dict[str, Any] = {}
    created = False
    try:
        await js.add_stream(name=name, subjects=[subject])  # fails if the server runs without -js
        created = True
        for n in range(1, orders + 1):
            await js.publish(subject, f"order {n}".encode(), headers={"Nats-Msg-Id": f"order-{n}"})
        again = await js.publish(subject, f"order {orders}".encode(),  # the last one, republished
                                 headers={"Nats-Msg-Id": f"order-{orders}"})
        facts["republish dropped as duplicate"] = again.duplicate
        facts["messages in stream"] = (await js.stream_info(name)).state.messages
        billing = await js.pull_subscribe(subject, durable="billing", stream=name)
        first, second = await billing.fetch(2, timeout=5)
        await first.ack_sync()  # processed: acknowledge
        await second.nak()  # processing failed: ask for redelivery now
        seen = []
        while len(seen) < orders - 1:
            for msg in await billing.fetch(1, timeout=5):
                seen.append((msg.data.decode(), msg.metadata.num_delivered))
                await msg.ack_sync()
        facts["after the nak"] = sorted(seen)
        info = await js.consumer_info(name, "billing")
        facts["ack floor (stream sequence)"] = info.ack_floor.stream_seq
        facts["waiting for billing"] = info.num_pending
        analytics = await js.pull_subscribe(subject, durable="analytics", stream=name)
        replayed = await analytics.fetch(1, timeout=5)
        facts["a second consumer reads from the start"] = [m.data.decode() for m in replayed]
    finally:
        try:
            if created:
                await js.delete_stream(name)
        finally:
            await nc.close()
    return facts
