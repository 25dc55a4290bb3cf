"""The outbox relay and the fulfilment worker, over a message broker (kombu).

A paid order's message is written to the ``outbox`` table in the same transaction that
marks it paid, so it exists if and only if the order is paid. The relay publishes
unpublished rows to the broker and then marks them published: a crash in between
publishes a row twice, never zero times (at least once). The consumer makes the
duplicates harmless: fulfilling is the compare-and-set ``paid -> fulfilled`` plus a row
in ``fulfilments`` whose primary key is the order id, in one transaction, and the
message is acknowledged only after that commits. Exactly once in effect.

``BROKER_URL`` picks the broker with one code path: ``memory://`` (kombu's in-process
transport, the default) or ``amqp://guest:guest@127.0.0.1:5672//`` (RabbitMQ).
"""

import json
import threading

import sqlalchemy as sa
from kombu import Connection, Exchange, Queue

from .db import engine, fulfilments, orders, outbox, transaction
from .states import now, transition


def exchange(app):
    return Exchange(app.config["BROKER_EXCHANGE"], type="direct", durable=True)


def fulfilment_queue(app):
    return Queue(app.config["BROKER_QUEUE"], exchange(app), routing_key="order.paid", durable=True)


def relay_outbox(app, limit=100):
    """Publish the outbox's unpublished messages, oldest first; return how many."""
    with app.app_context():
        with engine().connect() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.published_at.is_(None))
                                .order_by(outbox.c.id).limit(limit)).mappings().all()
        if not rows:
            return 0
        with Connection(app.config["BROKER_URL"]) as broker:
            producer = broker.Producer(serializer="json")
            for row in rows:
                producer.publish(json.loads(row["payload"]), exchange=exchange(app), routing_key=row["topic"],
                                 declare=[fulfilment_queue(app)], delivery_mode=2, retry=True)
                with transaction() as conn:
                    conn.execute(outbox.update().where(outbox.c.id == row["id"]).values(published_at=now()))
        return len(rows)


def fulfil(order_id):
    """Fulfil a paid order; False if it is not paid (already fulfilled, refunded, unknown)."""
    with transaction() as conn:
        status = conn.execute(sa.select(orders.c.status).where(orders.c.id == order_id)
                              .with_for_update()).scalar()
        if status != "paid":
            return False
        transition(conn, order_id, "paid", "fulfilled")
        conn.execute(fulfilments.insert().values(order_id=order_id, fulfilled_at=now()))
    return True


def consume(app, timeout=0.2):
    """Handle the queued messages until none comes for ``timeout`` seconds; return how many."""
    handled = 0

    def on_message(body, message):
        nonlocal handled
        order_id = body.get("order_id") if isinstance(body, dict) else None
        if type(order_id) is not int:
            message.reject()  # malformed: retrying cannot help (a real system dead-letters it)
            return
        try:
            with app.app_context():
                fulfil(order_id)
        except Exception:
            message.requeue()  # back to the queue for a later try (memory:// drops unacked ones on close)
            raise
        message.ack()  # only after the commit: a crash before it means a redelivery
        handled += 1

    with Connection(app.config["BROKER_URL"]) as broker:
        with broker.Consumer(fulfilment_queue(app), callbacks=[on_message], accept=["json"]):
            while True:
                try:
                    broker.drain_events(timeout=timeout)
                except TimeoutError:
                    return handled


class Worker:
    """Relay and consume in a background thread every ``interval`` seconds.

    ``run_once()`` does one round in the caller's thread (tests use it to step by hand).
    An exception stops nothing: it is kept in ``errors`` and re-raised by ``check()``.
    """

    def __init__(self, app, interval=0.1):
        self.app, self.interval = app, interval
        self.errors = []
        self._stop = threading.Event()
        self._thread = None

    def run_once(self):
        """``(messages published, messages handled)`` in one round."""
        return relay_outbox(self.app), consume(self.app, timeout=self.interval)

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # kept for check(); the loop goes on, as a worker must
                self.errors.append(error)
                self._stop.wait(self.interval)

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="shop-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def check(self):
        if self.errors:
            raise self.errors.pop(0)
