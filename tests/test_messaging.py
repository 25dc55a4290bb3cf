"""helpers/messaging.py: kombu on memory:// and RabbitMQ, Redis Streams, RQ jobs, JetStream.

Each broker test runs on kombu's in-process ``memory://`` and, when it answers, on RabbitMQ
(LAB_TEST_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672//); the RQ tests on fakeredis
and Redis (LAB_TEST_REDIS_URL); the JetStream test on NATS (LAB_TEST_NATS_URL, default
nats://127.0.0.1:4222). An unreachable server is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from rq import Retry
from rq.registry import FailedJobRegistry

from helpers import messaging
from tests.servers import AMQP, NATS, REDIS, broker_unreachable, redis_unreachable, tcp_unreachable


@pytest.fixture(params=["memory://", AMQP], ids=["memory", "rabbitmq"])
def broker(request, monkeypatch):
    """A connection to the broker under test, and its Names (all deleted afterwards)."""
    if request.param != "memory://" and (reason := broker_unreachable(request.param)):
        pytest.skip(reason)
    monkeypatch.setenv(messaging.BROKER_VAR, request.param)
    conn = messaging.connect()
    names = messaging.Names(conn, "test")
    yield conn, names
    names.delete_all()
    conn.release()


def test_the_default_is_the_in_process_transport(monkeypatch):
    monkeypatch.delenv(messaging.BROKER_VAR, raising=False)
    conn = messaging.connect()
    assert not messaging.is_amqp(conn)
    assert "memory://" in messaging.describe(conn) and "not a real broker" in messaging.describe(conn)
    conn.release()


def test_an_unreachable_broker_says_what_to_do():
    with pytest.raises(ConnectionError, match="unset it"):
        messaging.connect("amqp://guest:guest@127.0.0.1:1//")


def test_routing_keys_pick_the_queues(broker):
    conn, names = broker
    events = names.exchange("events", "topic")
    billing = names.queue("billing", events, "order.*")
    audit = names.queue("audit", events, "#")
    producer = conn.Producer(serializer="json")
    for key in ("order.created", "order.paid", "user.signed_up"):
        producer.publish({"key": key}, exchange=events, routing_key=key)
    assert [m["key"] for m in messaging.get_all(billing)] == ["order.created", "order.paid"]
    assert [m["key"] for m in messaging.get_all(audit)] == ["order.created", "order.paid", "user.signed_up"]
    assert messaging.get_all(billing) == [], "acknowledged messages are gone"


def test_a_crashed_consumers_unacked_message_comes_back_flagged_redelivered(broker):
    conn, names = broker
    orders = names.exchange("orders")
    queue = names.queue("fulfil", orders, "order.paid")
    conn.Producer(serializer="json").publish({"order": 7}, exchange=orders, routing_key="order.paid")
    consumer = messaging.connect()
    first = queue.bind(consumer.default_channel).get(no_ack=False)
    assert first.payload == {"order": 7} and not messaging.redelivered(first)
    messaging.crash(consumer)
    again = queue.get(no_ack=False)
    assert again is not None, "the unacknowledged message was lost"
    assert again.payload == {"order": 7} and messaging.redelivered(again)
    again.ack()
    assert queue.get(no_ack=False) is None


def test_bounded_retries_then_the_dead_letter_queue(broker):
    conn, names = broker
    jobs = names.exchange("jobs")
    work = names.queue("work", jobs, "work")
    dead = names.queue("work.dead", jobs, "work.dead")
    producer = conn.Producer(serializer="json")
    producer.publish({"n": 1}, exchange=jobs, routing_key="work")
    outcomes = []
    while (message := work.get(no_ack=False)) is not None:
        outcomes.append(messaging.retry_or_dead_letter(
            message, producer, ValueError("bad"), retry_to=work, dead_letters=dead, max_attempts=3))
    assert outcomes == ["retried", "retried", "dead-lettered"]
    [letter] = messaging.get_all(dead, ack=False)
    assert letter.payload == {"n": 1}
    assert letter.headers["x-attempts"] == 3 and letter.headers["x-error"] == "ValueError: bad"
    letter.ack()


def test_prefetch_bounds_the_unacknowledged_deliveries(broker):
    conn, names = broker
    tasks = names.exchange("tasks")
    queue = names.queue("tasks", tasks, "task")
    producer = conn.Producer(serializer="json")
    for n in range(5):
        producer.publish({"n": n}, exchange=tasks, routing_key="task")
    held = []
    with conn.Consumer(queue, callbacks=[lambda body, message: held.append(message)], prefetch_count=2,
                       accept=["json"]):
        for _ in range(4):
            try:
                conn.drain_events(timeout=0.3)
            except TimeoutError:
                break
        assert [m.payload["n"] for m in held] == [0, 1], "no more than two unacknowledged at once"
        held.pop(0).ack()
        conn.drain_events(timeout=2)
        assert [m.payload["n"] for m in held] == [1, 2]
        for m in held:
            m.ack()


def test_real_amqp_dead_letter_exchange(monkeypatch):
    """On RabbitMQ the broker dead-letters a rejected message itself (x-dead-letter-exchange)."""
    if reason := broker_unreachable(AMQP):
        pytest.skip(reason)
    conn = messaging.connect(AMQP)
    names = messaging.Names(conn, "test")
    try:
        dlx = names.exchange("dlx")
        dead = names.queue("dead", dlx, "work")
        work_ex = names.exchange("work")
        work = names.queue("work", work_ex, "work", x_dead_letter_exchange=dlx.name)
        conn.Producer(serializer="json").publish({"n": 1}, exchange=work_ex, routing_key="work")
        work.get(no_ack=False).reject(requeue=False)  # asynchronous: wait for the dead letter
        letters = []
        with conn.Consumer(dead, callbacks=[lambda body, message: letters.append(message)], accept=["json"]):
            conn.drain_events(timeout=5)
        assert letters[0].headers["x-death"][0]["reason"] == "rejected"
        letters[0].ack()
    finally:
        names.delete_all()
        conn.release()


@pytest.fixture(params=[None, REDIS], ids=["fakeredis", "redis"])
def rq_queue(request):
    if request.param and (reason := redis_unreachable(request.param)):
        pytest.skip(reason)
    queue = messaging.rq_queue(f"test-{os.getpid()}-{request.node.name}", url=request.param or "")
    jobs = []
    yield queue, jobs
    messaging.delete_rq_queue(queue, jobs)
    left = [k.decode() for k in queue.connection.scan_iter(match="rq:*", count=500)
            if queue.name.encode() in k or any(j.id.encode() in k for j in jobs)]
    assert left == [], "the test's RQ keys are gone (the node name has brackets: SCAN patterns need escaping)"


def test_jobs_retry_then_fail_into_the_failed_registry(rq_queue):
    queue, jobs = rq_queue
    messaging.ATTEMPTS.clear()
    jobs += [queue.enqueue(messaging.send_receipt, 1),
             queue.enqueue(messaging.send_receipt, 2, failures=1, retry=Retry(max=2)),
             queue.enqueue(messaging.send_receipt, 3, failures=9, retry=Retry(max=2))]
    messaging.run_jobs(queue)
    assert [j.get_status(refresh=True) for j in jobs] == ["finished", "finished", "failed"]
    assert jobs[1].return_value() == "receipt sent for order 2"
    assert dict(messaging.ATTEMPTS) == {1: 1, 2: 2, 3: 3}, "one try plus at most two retries"
    assert FailedJobRegistry(queue=queue).get_job_ids() == [jobs[2].id]


def test_jetstream_tour():
    if reason := tcp_unreachable(NATS):
        pytest.skip(reason)
    facts = asyncio.run(messaging.jetstream_tour(NATS))
    assert facts == {
        "republish dropped as duplicate": True,
        "messages in stream": 3,
        "after the nak": [("order 2", 2), ("order 3", 1)],
        "ack floor (stream sequence)": 3,
        "waiting for billing": 0,
        "a second consumer reads from the start": ["order 1"],
    }
