"""The step 10b reference shop (helpers/shop_app), its fake provider and its plumbing.

What a reviewer would attack, each with a test that fails on the naive version:

- stock never oversold by concurrent checkouts (real threads), on SQLite and, when they
  answer, on PostgreSQL and MariaDB; multi-line carts do not deadlock;
- Idempotency-Key: a retry replays, another body is a 422, concurrent duplicates charge
  once, a lost provider answer retried charges once, keys are per customer;
- webhooks: a bad or missing signature, a stale timestamp and a replayed capture are
  refused; duplicates, late and out-of-order deliveries never move an order backwards;
- the outbox and the worker fulfil each paid order exactly once in effect over the
  broker: kombu's ``memory://`` and, when it answers, RabbitMQ;
- the order state machine allows only its listed transitions; money is integer cents;
- IDOR, roles, hostile and over-long input; schemathesis finds no 5xx or undocumented answer.

Real servers are probed with a short timeout and skipped with the reason when unreachable
(LAB_TEST_POSTGRES_URL, LAB_TEST_MARIADB_URL, LAB_TEST_AMQP_URL change where to look).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import threading
import uuid

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from kombu import Connection
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from schemathesis.checks import positive_data_acceptance

from helpers.course.cells import kernel_env, read
from helpers.course.steps import REPO
from helpers.payment_provider import sign
from helpers.shop_app import money, states
from helpers.shop_lab import API_KEY, OPENAPI, WEBHOOK_SECRET, ShopClient, start_provider, start_shop
from tests.reference_apps import assert_notebook_writes
from tests.servers import AMQP, MARIADB, POSTGRES, broker_unreachable, database_unreachable

REFERENCE = REPO / "helpers" / "shop_app"


#: The graded project: what the learner's %%writefile cells write must be the reference app.
SOLUTION = REPO / "solutions" / "10b-shop" / "10b-shop.ipynb"


def test_the_reference_app_is_what_the_project_notebook_writes():
    assert_notebook_writes(SOLUTION, "shop", REFERENCE)


def engine_param(url):
    """The database_url for start_shop: None (SQLite), or a server's, skipped if it is down."""
    if url is None:
        return None
    reason = database_unreachable(url)
    if reason:
        pytest.skip(reason)
    return url


@pytest.fixture(params=[None, POSTGRES, MARIADB], ids=["sqlite", "postgresql", "mariadb"])
def any_engine_shop(request):
    shop = start_shop("helpers.shop_app", database_url=engine_param(request.param))
    yield shop
    shop.check()
    shop.stop()


@pytest.fixture(params=["memory://", AMQP], ids=["memory", "rabbitmq"])
def any_broker_shop(request):
    if request.param != "memory://" and (reason := broker_unreachable(request.param)):
        pytest.skip(reason)
    shop = start_shop("helpers.shop_app", BROKER_URL=request.param)
    yield shop
    shop.check()
    shop.stop()


@pytest.fixture
def shop():
    shop = start_shop("helpers.shop_app")
    yield shop
    shop.check()
    shop.stop()


def product(shop, stock=10, price_cents=1250, sku=None):
    admin = shop.customer(f"admin_{uuid.uuid4().hex[:8]}", role="admin")
    response = admin.post("/api/products", json={"sku": sku or uuid.uuid4().hex[:8].upper(),
                                                 "name": "Mug", "price_cents": price_cents, "stock": stock})
    assert response.status_code == 201, response.text
    return response.json()


def stock_of(shop, product_id):
    return shop.rows("SELECT stock FROM products WHERE id = :id", id=product_id)[0]["stock"]


def order_statuses(shop):
    return [r["status"] for r in shop.rows("SELECT status FROM orders ORDER BY id")]


def in_threads(functions):
    """Run the callables at once (a barrier releases them together); return their results."""
    barrier, results = threading.Barrier(len(functions)), [None] * len(functions)

    def run(i, function):
        barrier.wait()
        results[i] = function()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# ---- stock under concurrency -----------------------------------------------------------------

def test_concurrent_checkouts_never_oversell(any_engine_shop):
    shop = any_engine_shop
    mug = product(shop, stock=5)
    buyers = [shop.customer(f"buyer{n}") for n in range(12)]
    for buyer in buyers:
        assert buyer.add(mug["id"], 1).status_code == 200
    statuses = [r.status_code for r in in_threads([b.checkout for b in buyers])]
    assert sorted(statuses) == [201] * 5 + [409] * 7, statuses
    assert stock_of(shop, mug["id"]) == 0
    assert len(shop.provider.charges) == 5
    assert order_statuses(shop) == ["paid"] * 5


def test_multi_line_carts_in_any_order_neither_oversell_nor_deadlock(any_engine_shop):
    shop = any_engine_shop
    a, b = product(shop, stock=4), product(shop, stock=4)
    buyers = [shop.customer(f"pair{n}") for n in range(8)]
    for n, buyer in enumerate(buyers):  # half add a then b, half b then a
        first, second = (a, b) if n % 2 else (b, a)
        buyer.add(first["id"], 1)
        buyer.add(second["id"], 1)
    statuses = [r.status_code for r in in_threads([b.checkout for b in buyers])]
    assert sorted(statuses) == [201] * 4 + [409] * 4, statuses
    assert (stock_of(shop, a["id"]), stock_of(shop, b["id"])) == (0, 0)


def test_an_order_out_of_stock_reserves_nothing(shop):
    plenty, scarce = product(shop, stock=10), product(shop, stock=1)
    alice = shop.customer("alice")
    alice.add(plenty["id"], 3)
    alice.add(scarce["id"], 2)
    response = alice.checkout()
    assert response.status_code == 409 and "stock" in response.json()["error"]
    assert (stock_of(shop, plenty["id"]), stock_of(shop, scarce["id"])) == (10, 1)
    assert shop.rows("SELECT * FROM orders") == [] and shop.provider.charges == []
    assert len(alice.get("/api/cart").json()["items"]) == 2, "a failed checkout keeps the cart"


def test_a_declined_payment_cancels_the_order_and_gives_the_stock_back(shop):
    mug = product(shop, stock=3)
    alice = shop.customer("alice")
    alice.add(mug["id"], 2)
    response = alice.checkout(payment_method="pm_card_declined")
    assert response.status_code == 402 and response.json()["order"]["status"] == "cancelled"
    assert stock_of(shop, mug["id"]) == 3 and shop.provider.charges == []
    assert shop.worker.run_once() == (0, 0), "a cancelled order sends nothing to the warehouse"


def test_an_unknown_payment_method_charges_nothing_and_cancels(shop):
    mug = product(shop, stock=3)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    response = alice.checkout(payment_method="pm_card_unknown")
    assert response.status_code == 402 and stock_of(shop, mug["id"]) == 3


# ---- idempotency keys ---------------------------------------------------------------------------

def test_a_retry_with_the_same_key_replays_and_charges_once(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 2)
    first = alice.checkout(key="retry-key-1")
    again = alice.checkout(key="retry-key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert len(shop.provider.charges) == 1 and stock_of(shop, mug["id"]) == 8


def test_the_same_key_with_another_body_is_refused(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    assert alice.checkout("1 Main Street", key="reused-key-1").status_code == 201
    other = alice.checkout("2 Other Road", key="reused-key-1")
    assert other.status_code == 422 and len(shop.provider.charges) == 1


def test_concurrent_duplicates_charge_once(any_engine_shop):
    shop = any_engine_shop
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    responses = in_threads([lambda: alice.checkout(key="double-click") for _ in range(8)])
    created = [r for r in responses if r.status_code == 201]
    assert created and all(r.status_code in (201, 409) for r in responses), [r.status_code for r in responses]
    assert len({r.json()["id"] for r in created}) == 1
    assert len(shop.provider.charges) == 1 and len(shop.rows("SELECT id FROM orders")) == 1


def test_a_lost_provider_answer_is_retried_without_a_second_charge(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    shop.provider.lose_next_response("/confirm")  # the charge happens; its answer is lost
    lost = alice.checkout(key="lost-answer-1")
    assert lost.status_code == 502 and len(shop.provider.charges) == 1
    retried = alice.checkout(key="lost-answer-1")
    assert retried.status_code == 201 and retried.json()["status"] == "paid"
    assert len(shop.provider.charges) == 1 and len(shop.provider.intents) == 1
    assert stock_of(shop, mug["id"]) == 9


def test_a_provider_that_is_down_leaves_a_retryable_order(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    shop.app.config["PAYMENT_PROVIDER_URL"] = "http://127.0.0.1:9"  # nothing listens there
    assert alice.checkout(key="provider-down").status_code == 502
    shop.app.config["PAYMENT_PROVIDER_URL"] = shop.provider.url
    assert alice.checkout(key="provider-down").status_code == 201
    assert len(shop.rows("SELECT id FROM orders")) == 1 and len(shop.provider.charges) == 1


def test_keys_belong_to_their_customer(shop):
    mug = product(shop)
    alice, bob = shop.customer("alice"), shop.customer("bob")
    alice.add(mug["id"], 1)
    bob.add(mug["id"], 1)
    mine = alice.checkout(key="shared-key-1").json()
    theirs = bob.checkout(key="shared-key-1")
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"], "bob must not get alice's order"


@pytest.mark.parametrize("key", [None, "short", "x" * 101, "has space!", "ünïcode-key"])
def test_checkout_needs_a_well_formed_key(shop, key):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    headers = {} if key is None else {"Idempotency-Key": key}
    body = {"address": "1 Main Street", "payment_method": "pm_card_visa"}
    response = alice.post("/api/checkout", json=body, headers=headers)
    assert response.status_code == 400 and shop.provider.charges == []


# ---- webhooks -------------------------------------------------------------------------------------

def paid_order(shop, customer="alice", **checkout):
    mug = product(shop)
    client = shop.customer(customer)
    client.add(mug["id"], 1)
    response = client.checkout(**checkout)
    assert response.status_code in (201, 402), response.text
    return client, response.json()


def post_webhook(shop, body, signature):
    return requests.post(shop.provider.webhook_url, data=body, timeout=10,
                         headers={"Content-Type": "application/json", "Provider-Signature": signature})


def test_a_signed_fresh_event_is_accepted_once(shop):
    paid_order(shop)
    assert shop.provider.deliver(times=2) == [200, 200]
    assert shop.rows("SELECT id FROM webhook_events") == [{"id": "evt_000001"}]
    assert order_statuses(shop) == ["paid"]


def test_bad_missing_and_foreign_signatures_are_refused(shop):
    paid_order(shop)
    event = shop.provider.events[0]
    body, headers = shop.provider.signed_request(event)
    now = int(shop.clock())
    attempts = {
        "none": "",
        "garbage": "nonsense",
        "wrong secret": sign("whsec_someone_else", body, now),
        "other body": sign(WEBHOOK_SECRET, body + b" ", now),
        "no v1": f"t={now}",
        "huge t": sign(WEBHOOK_SECRET, body, 10**30),
    }
    for name, signature in attempts.items():
        assert post_webhook(shop, body, signature).status_code == 400, name
    assert shop.rows("SELECT id FROM webhook_events") == []


def test_a_stale_or_replayed_delivery_is_refused(shop):
    paid_order(shop)
    event = shop.provider.events[0]
    body, headers = shop.provider.signed_request(event)  # captured by an attacker now ...
    shop.clock.advance(301)  # ... and replayed after the tolerance
    assert post_webhook(shop, body, headers["Provider-Signature"]).status_code == 400
    future = sign(WEBHOOK_SECRET, body, int(shop.clock()) + 301)
    assert post_webhook(shop, body, future).status_code == 400
    assert shop.provider.deliver() == [200], "a fresh signature of the same event is fine"


def test_a_signature_among_several_is_found(shop):
    paid_order(shop)
    body, headers = shop.provider.signed_request(shop.provider.events[0])
    rotated = headers["Provider-Signature"].replace("v1=", "v1=" + "0" * 64 + ",v1=")
    assert post_webhook(shop, body, rotated).status_code == 200


def test_out_of_order_events_end_in_the_latest_state(shop):
    admin = shop.customer("boss", role="admin")
    _, order = paid_order(shop)
    assert admin.post(f"/api/orders/{order['id']}/refund").json()["status"] == "refunded"
    assert shop.provider.event_types() == ["payment_intent.succeeded", "charge.refunded"]
    assert shop.provider.deliver(reverse=True) == [200, 200]  # refunded first, then succeeded
    assert order_statuses(shop) == ["refunded"]


def test_a_late_success_event_does_not_undo_fulfilment(shop):
    paid_order(shop)
    assert shop.worker.run_once() == (1, 1)
    shop.clock.advance(3600)  # delivered an hour late: signed at delivery, so fresh
    assert shop.provider.deliver() == [200]
    assert order_statuses(shop) == ["fulfilled"]


def test_a_webhook_alone_moves_an_order_whose_answer_was_lost(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    shop.provider.lose_next_response("/confirm")
    assert alice.checkout(key="never-retried").status_code == 502
    assert order_statuses(shop) == ["pending"]
    assert shop.provider.deliver() == [200]  # the client never retried; the event is enough
    assert order_statuses(shop) == ["paid"]


def test_a_forged_event_cannot_mark_an_order_paid(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    shop.provider.lose_next_response("/confirm")
    alice.checkout(payment_method="pm_card_declined", key="forged-event")
    intent = next(iter(shop.provider.intents))
    forged = {"id": "evt_forged", "type": "payment_intent.succeeded", "created": int(shop.clock()),
              "data": {"object": {"id": intent, "status": "succeeded", "amount_refunded": 0}}}
    body, headers = shop.provider.signed_request(forged)  # validly signed, but the payment failed
    assert post_webhook(shop, body, headers["Provider-Signature"]).status_code == 200
    assert order_statuses(shop) == ["cancelled"], "the shop asks the provider, not the event"


# ---- the outbox and the worker --------------------------------------------------------------------

def test_paid_orders_are_fulfilled_once_over_the_broker(any_broker_shop):
    shop = any_broker_shop
    for n in range(3):
        paid_order(shop, customer=f"customer{n}")
    assert shop.rows("SELECT topic FROM outbox ORDER BY id") == [{"topic": "order.paid"}] * 3
    assert shop.worker.run_once() == (3, 3)
    # A relay that crashed after publishing but before marking publishes everything again:
    with shop.engine.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET published_at = NULL"))
    assert shop.worker.run_once() == (3, 3)
    assert order_statuses(shop) == ["fulfilled"] * 3
    assert len(shop.rows("SELECT order_id FROM fulfilments")) == 3


def test_the_background_worker_fulfils_on_its_own(any_broker_shop):
    shop = any_broker_shop
    paid_order(shop)
    shop.worker.start()
    for _ in range(200):
        if order_statuses(shop) == ["fulfilled"]:
            break
        threading.Event().wait(0.05)
    shop.worker.stop()
    assert order_statuses(shop) == ["fulfilled"]


def test_a_failure_before_the_commit_leaves_the_message_queued(any_broker_shop, monkeypatch):
    shop = any_broker_shop
    paid_order(shop)
    worker = importlib.import_module(shop.package.__name__ + ".worker")
    assert worker.relay_outbox(shop.app) == 1

    def crash(order_id):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(worker, "fulfil", crash)
        with pytest.raises(RuntimeError):
            worker.consume(shop.app)
    assert order_statuses(shop) == ["paid"]
    assert worker.consume(shop.app) == 1, "the message must come again"
    assert order_statuses(shop) == ["fulfilled"]


def test_a_malformed_message_is_dropped_not_retried_forever(any_broker_shop):
    shop = any_broker_shop
    worker = importlib.import_module(shop.package.__name__ + ".worker")
    with Connection(shop.app.config["BROKER_URL"]) as broker:
        producer = broker.Producer(serializer="json")
        producer.publish({"order_id": "1; DROP TABLE orders"}, exchange=worker.exchange(shop.app),
                         routing_key="order.paid", declare=[worker.fulfilment_queue(shop.app)])
    assert worker.consume(shop.app) == 0 and worker.consume(shop.app) == 0


def test_two_workers_racing_fulfil_once(shop):
    paid_order(shop)
    shop.worker.run_once()
    with shop.engine.begin() as conn:  # undo only the status, to race the fulfilment itself
        conn.execute(sa.text("UPDATE orders SET status = 'paid'"))
        conn.execute(sa.text("DELETE FROM fulfilments"))
    worker = importlib.import_module(shop.package.__name__ + ".worker")
    results = in_threads([lambda: shop.call(worker.fulfil, 1) for _ in range(6)])
    assert results.count(True) == 1 and len(shop.rows("SELECT * FROM fulfilments")) == 1


def test_a_refunded_order_is_not_fulfilled(shop):
    admin = shop.customer("boss", role="admin")
    _, order = paid_order(shop)
    admin.post(f"/api/orders/{order['id']}/refund")
    assert shop.worker.run_once() == (2, 1)  # order.paid and order.refunded published
    assert order_statuses(shop) == ["refunded"] and shop.rows("SELECT * FROM fulfilments") == []


def test_no_outbox_message_without_a_paid_order(shop):
    paid_order(shop, payment_method="pm_card_declined")
    assert shop.rows("SELECT * FROM outbox") == []


# ---- the state machine -------------------------------------------------------------------------------

def test_the_transitions_are_explicit():
    assert states.TRANSITIONS == {"pending": {"paid", "cancelled"}, "paid": {"fulfilled", "refunded"},
                                  "fulfilled": {"refunded"}, "cancelled": set(), "refunded": set()}
    assert states.path("pending", "refunded") == ["paid", "refunded"]
    assert states.path("fulfilled", "paid") == [] and states.path("cancelled", "paid") == []


@pytest.mark.parametrize(("current", "new"), [("pending", "fulfilled"), ("cancelled", "paid"),
                                              ("refunded", "paid"), ("fulfilled", "pending")])
def test_a_forbidden_transition_changes_nothing(shop, current, new):
    _, order = paid_order(shop)
    with shop.engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET status = :s"), {"s": current})
    package = shop.package  # imported afresh by start_shop: its own classes

    def attempt():
        with package.db.transaction() as conn:
            package.states.transition(conn, order["id"], current, new)

    with pytest.raises(package.errors.ApiError) as raised:
        shop.call(attempt)
    assert raised.value.status == 409 and order_statuses(shop) == [current]


def test_refunds_need_a_paid_order_and_an_admin(shop):
    admin = shop.customer("boss", role="admin")
    alice, order = paid_order(shop)
    assert alice.post(f"/api/orders/{order['id']}/refund").status_code == 403
    assert admin.post(f"/api/orders/{order['id']}/refund").status_code == 200
    assert admin.post(f"/api/orders/{order['id']}/refund").status_code == 409
    assert len(shop.provider.refunds) == 1


# ---- money ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("price", [12.5, 1250.0, "1250", True, -1, 100_000_000, None])
def test_prices_are_whole_cents(shop, price):
    admin = shop.customer("boss", role="admin")
    response = admin.post("/api/products", json={"sku": "X1", "name": "X", "price_cents": price, "stock": 1})
    assert response.status_code == 400


def test_totals_are_exact_integer_sums(shop):
    alice = shop.customer("alice")
    items = [product(shop, price_cents=cents) for cents in (10, 20, 30)]
    for item in items:
        alice.add(item["id"], 3)
    order = alice.checkout().json()
    assert order["total_cents"] == 180 and order["total"] == "1.80 EUR"
    assert shop.provider.charges[0]["amount"] == 180
    assert money.display(1, "eur") == "0.01 EUR" and money.is_cents(10) and not money.is_cents(0.1)


def test_no_float_in_the_shop():
    """No float literal or float() where money is handled (the worker's timeouts are seconds)."""
    for path in set(REFERENCE.glob("*.py")) - {REFERENCE / "worker.py"}:
        tree = ast.parse(path.read_text())
        floats = [n.lineno for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, float)]
        calls = [n.lineno for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "float"]
        assert floats == [] and calls == [], f"{path.name}: float at lines {floats + calls}"
    columns = [c for t in databases_tables() for c in t.columns if isinstance(c.type, sa.Float)]
    assert columns == []


def databases_tables():
    from helpers.shop_app import db
    return db.metadata.tables.values()


def test_a_price_change_does_not_change_a_placed_order(shop):
    admin = shop.customer("boss", role="admin")
    mug = product(shop, price_cents=1000)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    order = alice.checkout().json()
    admin.patch(f"/api/products/{mug['id']}", json={"price_cents": 5})
    assert alice.get(f"/api/orders/{order['id']}").json()["total_cents"] == 1000


# ---- who may see and do what, hostile input -----------------------------------------------------------

def test_customers_see_only_their_own_orders(shop):
    alice, order = paid_order(shop)
    bob = shop.customer("bob")
    assert bob.get(f"/api/orders/{order['id']}").status_code == 404
    assert bob.get(f"/api/orders/{order['id'] + 1}").status_code == 404, "same answer: ids reveal nothing"
    assert bob.get("/api/orders").json() == {"orders": []}
    assert alice.get(f"/api/orders/{order['id']}").status_code == 200
    assert ShopClient(shop.url).get(f"/api/orders/{order['id']}").status_code == 401


def test_sign_up_never_makes_an_admin_and_tokens_are_stored_hashed(shop):
    visitor = ShopClient(shop.url)
    created = visitor.post("/api/customers", json={"name": "mallory", "role": "admin"}).json()
    assert created["role"] == "customer"
    mallory = ShopClient(shop.url, created["token"])
    assert mallory.post("/api/products", json={"sku": "EVIL", "name": "x", "price_cents": 1,
                                               "stock": 1}).status_code == 403
    stored = shop.rows("SELECT token_hash FROM customers WHERE name = 'mallory'")[0]["token_hash"]
    assert created["token"] not in stored and len(stored) == 64


@pytest.mark.parametrize("token", ["", "Bearer", "Bearer nope", "Basic YWRtaW46YWRtaW4=",
                                   "Bearer " + "x" * 5000])
def test_bad_tokens_are_401(shop, token):
    response = requests.get(shop.url + "/api/cart", headers={"Authorization": token}, timeout=10)
    assert response.status_code == 401


@pytest.mark.parametrize("quantity", [0, 101, -1, "2", 2.0, True, None])
def test_cart_quantities_are_whole_numbers_from_1_to_100(shop, quantity):
    mug = product(shop)
    alice = shop.customer("alice")
    assert alice.put(f"/api/cart/items/{mug['id']}", json={"quantity": quantity}).status_code == 400


def test_hostile_and_oversized_input(shop):
    mug = product(shop)
    alice = shop.customer("alice")
    alice.add(mug["id"], 1)
    assert alice.checkout(address="x" * 501).status_code == 400
    assert alice.checkout(address="   ").status_code == 400
    assert alice.checkout(payment_method="pm_x'; DROP TABLE orders; --").status_code == 400
    big = alice.post("/api/checkout", data=b"{" + b" " * 20_000 + b"}",
                     headers={"Content-Type": "application/json", "Idempotency-Key": "big-body-1"})
    assert big.status_code == 413
    assert alice.put("/api/cart/items/999999", json={"quantity": 1}).status_code == 404
    odd = alice.post("/api/customers", json={"name": "Robert'); DROP TABLE customers;--"})
    assert odd.status_code == 400 and len(shop.rows("SELECT id FROM customers")) >= 2


def test_an_empty_cart_cannot_check_out(shop):
    alice = shop.customer("alice")
    response = alice.checkout()
    assert response.status_code == 409 and shop.provider.charges == []


# ---- the fake provider --------------------------------------------------------------------------------

def test_the_provider_authenticates_and_replays_by_key():
    provider = start_provider()
    url = provider.url + "/v1/payment_intents"
    body = {"amount": 500, "currency": "eur", "metadata": {"order_id": "1"}}
    assert requests.post(url, json=body, timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "k1"}
    first = requests.post(url, json=body, headers=auth, timeout=10).json()
    assert requests.post(url, json=body, headers=auth, timeout=10).json() == first
    assert requests.post(url, json=body | {"amount": 501}, headers=auth, timeout=10).status_code == 400
    assert requests.post(url, json=body | {"amount": 5.0}, headers=auth | {"Idempotency-Key": "k2"},
                         timeout=10).status_code == 400
    assert len(provider.intents) == 1
    provider.stop()


def test_signatures_are_hmac_sha256_of_timestamp_and_body():
    signature = sign("secret", b'{"a":1}', 1700000000)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", signature)
    assert signature != sign("secret", b'{"a":2}', 1700000000) != sign("secret", b'{"a":1}', 1700000001)


def test_start_shop_serves_on_loopback_with_its_own_names(shop):
    assert shop.url.startswith("http://127.0.0.1:") and shop.provider.url.startswith("http://127.0.0.1:")
    assert shop.app.config["BROKER_QUEUE"].startswith("shop-lab-")
    assert shop.provider.webhook_url == shop.url + "/webhooks/payments"


def test_every_route_of_the_api_is_documented(shop):
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in shop.app.url_map.iter_rules()}
    assert routes == set(OPENAPI["paths"])


# ---- schemathesis --------------------------------------------------------------------------------------

schema = schemathesis.openapi.from_dict(OPENAPI)
SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), print_blob=False)


@pytest.fixture
def api():
    """The reference shop with products, a filled cart and a paid order, and an admin's header."""
    shop = start_shop("helpers.shop_app")
    admin = shop.customer("admin", role="admin")
    for n in (1, 2):
        admin.post("/api/products", json={"sku": f"P{n}", "name": f"Product {n}", "price_cents": 100 * n,
                                          "stock": 1000})
    admin.add(1, 2)
    admin.checkout()
    admin.add(2, 1)
    yield shop, {"Authorization": f"Bearer {admin.token}"}
    shop.check()
    shop.stop()


@schema.parametrize()
@SETTINGS
def test_the_shop_api_conforms_to_its_openapi(case, api):
    """Generated requests as an admin: no 5xx, documented statuses, bodies match their schemas."""
    shop, headers = api
    if case.headers and "Idempotency-Key" in case.headers and re.fullmatch(
            r"[A-Za-z0-9_-]{8,100}", str(case.headers["Idempotency-Key"])):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex  # a real client's fresh key
    response = case.call(base_url=shop.url, headers=headers)
    # Two answers are right although schemathesis would call them "valid data rejected": a
    # declined payment (402: the request was fine, the card was not) and a webhook, whose
    # signature no generator can forge (400). Every other check still applies to them.
    unforgeable = response.status_code == 402 or case.path == "/webhooks/payments"
    excluded = [positive_data_acceptance] if unforgeable else []
    case.validate_response(response, headers=headers, excluded_checks=excluded)


def test_webhook_bodies_are_json_objects_only(shop):
    traversal = {"id": "evt_x", "type": "payment_intent.succeeded", "data": {"object": {"id": "../refunds"}}}
    for body in (b"[]", b"null", b"{", json.dumps({"id": 1}).encode(), json.dumps(traversal).encode()):
        signature = sign(WEBHOOK_SECRET, body, int(shop.clock()))
        assert post_webhook(shop, body, signature).status_code == 400


def other_spellings(nb):
    """The project's answers rewritten the way other correct learners write them: webhooks.py
    with ``from hmac import compare_digest as same``, orders.py reserving stock with text()
    SQL in lower case and the check the other way round (``:q <= stock``)."""
    answers = {cell.metadata.nbgrader["grade_id"]: cell for cell in nb.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    webhooks = answers["q10b_4-answer"]
    assert "hmac.compare_digest(" in webhooks.source
    from_import = "import hmac\nfrom hmac import compare_digest as same\n"
    webhooks.source = webhooks.source.replace("import hmac\n", from_import)
    webhooks.source = webhooks.source.replace("hmac.compare_digest(", "same(")
    orders = answers["q10b_3-answer"]
    core = re.compile(r"reserved = conn\.execute\(\n.*?\)\)\.rowcount\n", re.DOTALL)
    assert core.search(orders.source)
    orders.source = core.sub(
        'reserved = conn.execute(sa.text("update products set stock = stock - :q "\n'
        '                                         "where id = :id and :q <= stock"),\n'
        '                                 {"q": line["quantity"], "id": line["product_id"]}).rowcount\n',
        orders.source, count=1)
    return nb


def test_the_hidden_tests_accept_other_correct_spellings(tmp_path):
    """A correct answer spelled differently keeps its points: the compare_digest spy sees a
    ``from hmac import`` name, and the SQL check takes lower-case text() with ``:q <= stock``.
    Runs the project up to those two hidden test cells (oversell, signatures) in a kernel."""
    keep = {"q10b_3-oversell", "q10b_4-signatures"}
    nb = other_spellings(read(SOLUTION))
    nb.cells = [c for c in nb.cells if c.cell_type == "code" and (
        not c.metadata.get("nbgrader", {}).get("grade") or c.metadata["nbgrader"].get("solution")
        or c.metadata["nbgrader"]["grade_id"] in keep)]
    assert sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in keep) == 2
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute(env=kernel_env())
    except CellExecutionError as error:
        pytest.fail(f"a correct answer written differently lost points:\n{error}")
    noisy = [c.source.splitlines()[0] for c in nb.cells for out in c.get("outputs", [])
             if out.output_type == "stream" and out.name == "stderr"]
    assert noisy == [], f"cells wrote to stderr (nbgrader would score them 0): {noisy}"
