"""The step 10c reference chat (helpers/chat_app) and its plumbing (helpers/chat_lab).

Two instances share one database and one Redis, as in production. The tests attack the
app the way a reviewer would: connecting without, with a forged or a spent token;
other users' rooms; hostile and oversized input; reconnects across instances with
gaps and duplicates; concurrent senders on both instances; the rate limit counted on
both. The fan-out tests run on fakeredis and, when one answers at REDIS_URL (or
LAB_TEST_REDIS_URL, default redis://127.0.0.1:6379/0), on a real Redis; otherwise
that half is skipped, saying why.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from websockets.exceptions import ConnectionClosed

from helpers.chat_app import db as chat_db
from helpers.chat_lab import OPENAPI, ChatClient, ChatSocket, handshake_status, load_run, start_pair
from helpers.course.steps import REPO
from tests.reference_apps import assert_notebook_writes
from tests.servers import MARIADB, POSTGRES, REDIS, database_unreachable, redis_unreachable

DATABASES = {"postgresql": POSTGRES, "mariadb": MARIADB}


def start(backend: str, monkeypatch):
    """A pair on fakeredis and SQLite, or with ``backend`` (redis, postgresql, mariadb) real."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    if backend != "fakeredis":
        url = REDIS if backend == "redis" else DATABASES[backend]
        reason = redis_unreachable(url) if backend == "redis" else database_unreachable(url)
        if reason:
            pytest.skip(reason)
        monkeypatch.setenv("REDIS_URL" if backend == "redis" else "DATABASE_URL", url)
    return start_pair("helpers.chat_app")


REAL = pytest.mark.realserver


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=REAL)])
def pair(request, monkeypatch):
    """Instances a and b of the reference chat, on fakeredis or on the real Redis."""
    chat = start(request.param, monkeypatch)
    yield chat
    chat.check()
    chat.stop()


@pytest.fixture(params=["fakeredis", *(pytest.param(backend, marks=REAL)
                                       for backend in ("redis", "postgresql", "mariadb"))])
def any_pair(request, monkeypatch):
    """The pair on the defaults, then with a real Redis, PostgreSQL or MariaDB (DATABASE_URL)."""
    chat = start(request.param, monkeypatch)
    yield chat
    chat.check()
    chat.stop()


@pytest.fixture
def fake_pair(monkeypatch):
    """The pair on the default path only (tests whose subject is not the fan-out)."""
    chat = start("fakeredis", monkeypatch)
    yield chat
    chat.check()
    chat.stop()


def room_with(owner: ChatClient, *others: ChatClient, name: str = "general", private: bool = False) -> int:
    response = owner.post("/api/rooms", json={"name": name, "private": private})
    assert response.status_code == 201, response.text
    room = response.json()["id"]
    for other in others:
        body = {"username": other.username} if private else None
        joined = (owner if private else other).post(f"/api/rooms/{room}/members", json=body)
        assert joined.status_code == 201, joined.text
    return room


def rows(chat, sql: str, **params):
    with chat.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


# ---- authentication on connect ------------------------------------------------------------

def test_connecting_needs_a_live_session(fake_pair):
    ws_url = fake_pair.a.ws_url + "/ws"
    alice = ChatClient(fake_pair.a.url).signup("alice")
    assert handshake_status(ws_url) == 403
    assert handshake_status(ws_url, {"Authorization": "Bearer forged-token"}) == 403
    assert handshake_status(ws_url, {"Authorization": f"Basic {alice.token}"}) == 403
    assert handshake_status(ws_url, {"Authorization": f"Bearer {alice.token}"}) == 101
    # The same session works on the other instance: sessions live in the shared database.
    assert handshake_status(fake_pair.b.ws_url + "/ws", {"Authorization": f"Bearer {alice.token}"}) == 101
    assert alice.post("/api/logout").status_code == 204
    assert handshake_status(ws_url, {"Authorization": f"Bearer {alice.token}"}) == 403
    assert alice.get("/api/me").status_code == 401


def test_sessions_expire_and_an_open_socket_notices(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    with alice.socket() as ws:
        ws.join(room)
        fake_pair.clock.advance(30 * 60)
        ws.send_json({"type": "send", "room": room, "body": "still here?"})
        with pytest.raises(ConnectionClosed) as closed:
            ws.next("ack")
        assert closed.value.rcvd.code == 1008
    assert handshake_status(fake_pair.a.ws_url + "/ws", {"Authorization": f"Bearer {alice.token}"}) == 403
    assert rows(fake_pair, "SELECT count(*) FROM messages") == [(0,)]


def test_a_listening_socket_is_closed_when_its_session_ends(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    chat = start_pair("helpers.chat_app", SESSION_RECHECK=0.1)
    alice = ChatClient(chat.a.url).signup("alice")
    with alice.socket(chat.b.url) as ws:
        ws.join(room_with(alice))
        assert alice.post("/api/logout").status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.next(timeout=3)
        assert closed.value.rcvd.code == 1008
    chat.check()
    chat.stop()


def test_joins_and_leaves_are_rate_limited(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    with alice.socket() as ws:
        for _ in range(10):
            ws.send_json({"type": "join", "room": room})
            ws.send_json({"type": "leave", "room": room})
        assert [f for f in ws.drain() if f["type"] == "error"] == []  # 20 in 10 s are fine
        assert ws.join(room)["code"] == "rate_limited"
        assert ws.send(room, "sending is counted apart")["type"] == "ack"


def test_the_token_is_stored_hashed_and_login_is_uniform(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    stored = rows(fake_pair, "SELECT token_hash FROM sessions")
    assert len(stored) == 1 and alice.token not in stored[0][0]
    wrong = ChatClient(fake_pair.a.url).login("alice", "not the password at all")
    unknown = ChatClient(fake_pair.a.url).login("nobody", "not the password at all")
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json()) == \
        (401, {"error": "invalid username or password"})


def test_the_login_limit_counts_per_username(fake_pair):
    ChatClient(fake_pair.a.url).signup("alice")  # the first of 10 attempts in 15 minutes
    statuses = [ChatClient(fake_pair.a.url).login("alice", f"guess number {n}").status_code for n in range(9)]
    assert statuses == [401] * 9
    locked = ChatClient(fake_pair.b.url).login("ALICE", "correct horse battery staple")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    fake_pair.clock.advance(15 * 60)
    assert ChatClient(fake_pair.b.url).login("alice", "correct horse battery staple").status_code == 200


def test_a_ticket_opens_one_socket_once(pair):
    alice = ChatClient(pair.a.url).signup("alice")
    ticket = alice.post("/api/tickets").json()["ticket"]
    assert handshake_status(f"{pair.b.ws_url}/ws?ticket={ticket}") == 101  # any instance: it is in Redis
    assert handshake_status(f"{pair.a.ws_url}/ws?ticket={ticket}") == 403  # replayed
    assert handshake_status(f"{pair.a.ws_url}/ws?ticket=made-up") == 403
    late = alice.post("/api/tickets").json()["ticket"]
    pair.clock.advance(31)
    assert handshake_status(f"{pair.a.ws_url}/ws?ticket={late}") == 403  # expired
    assert handshake_status(pair.a.ws_url + "/ws", {"Authorization": f"Bearer {ticket}"}) == 403
    assert ChatClient(pair.a.url).post("/api/tickets").status_code == 401


# ---- rooms and membership -----------------------------------------------------------------

def test_private_rooms_do_not_exist_for_outsiders(fake_pair):
    alice, mallory = (ChatClient(fake_pair.a.url).signup(n) for n in ("alice", "mallory"))
    room = room_with(alice, name="secret", private=True)
    for method, path, body in [("GET", f"/api/rooms/{room}", None),
                               ("GET", f"/api/rooms/{room}/messages", None),
                               ("GET", f"/api/rooms/{room}/presence", None),
                               ("POST", f"/api/rooms/{room}/messages", {"body": "hi"}),
                               ("POST", f"/api/rooms/{room}/members", None),
                               ("POST", f"/api/rooms/{room}/members", {"username": "mallory"})]:
        response = mallory.request(method, path, json=body)
        assert (response.status_code, response.json()["error"]) == (404, "no such room"), (method, path)
    assert [r["name"] for r in mallory.get("/api/rooms").json()["rooms"]] == []
    with mallory.socket() as ws:
        assert ws.join(room)["code"] == "not_found"
        assert ws.send(room, "let me in")["code"] == "not_found"
    assert rows(fake_pair, "SELECT count(*) FROM messages") == [(0,)]


def test_public_rooms_need_joining_and_only_owners_add_to_private_ones(fake_pair):
    alice, bob, carol = (ChatClient(fake_pair.a.url).signup(n) for n in ("alice", "bob", "carol"))
    public = room_with(alice, name="public")
    assert bob.post(f"/api/rooms/{public}/messages", json={"body": "hi"}).status_code == 403
    assert bob.get(f"/api/rooms/{public}/messages").status_code == 403
    assert bob.post(f"/api/rooms/{public}/members", json={"username": "carol"}).status_code == 403
    assert bob.post(f"/api/rooms/{public}/members").status_code == 201
    assert bob.post(f"/api/rooms/{public}/messages", json={"body": "hi"}).status_code == 201
    private = room_with(alice, bob, name="private", private=True)
    assert bob.post(f"/api/rooms/{private}/members", json={"username": "carol"}).status_code == 403
    assert carol.get(f"/api/rooms/{private}").status_code == 404
    members = rows(fake_pair, "SELECT user_id FROM memberships WHERE room_id = :r", r=private)
    assert sorted(members) == [(1,), (2,)]


@pytest.mark.parametrize("body", [{"name": ""}, {"name": " padded"}, {"name": "x" * 41}, {"name": "<b>"},
                                  {"name": 7}, {"name": "ok", "private": "yes"}, [1, 2]])
def test_invalid_rooms_are_400(fake_pair, body):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    assert alice.post("/api/rooms", json=body).status_code == 400


def test_unknown_and_huge_ids_are_404_not_500(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    for room in (0, 999, 2**31, 10**20):
        assert alice.get(f"/api/rooms/{room}/messages").status_code == 404
    with alice.socket() as ws:
        assert ws.join(10**20)["code"] == "not_found"
        assert ws.send(2**63, "x")["code"] == "not_found"
    room = room_with(alice)
    assert alice.get(f"/api/rooms/{room}/messages", params={"after": str(10**20)}).status_code == 400


# ---- messages: stored raw, sent as JSON ---------------------------------------------------

HOSTILE = "<script>alert('x')</script> <img src=x onerror=alert(1)> \"quotes\" & 'apostrophes' 💬"


def test_hostile_text_is_stored_raw_and_sent_as_json(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    with alice.socket() as ws:
        ws.join(room)
        assert ws.send(room, HOSTILE)["type"] == "ack"
        assert ws.next("message")["body"] == HOSTILE
    assert rows(fake_pair, "SELECT body FROM messages") == [(HOSTILE,)]
    history = alice.get(f"/api/rooms/{room}/messages")
    assert history.headers["content-type"] == "application/json"
    assert history.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in history.headers["content-security-policy"]
    assert history.json()["messages"][0]["body"] == HOSTILE


@pytest.mark.parametrize("body", ["", "   \n", "x" * 2001, "null\x00byte", "bell\x07", "rtl\u202eoverride",
                                  None, 42, ["list"]])
def test_unacceptable_bodies_are_refused_and_not_stored(fake_pair, body):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    response = alice.post(f"/api/rooms/{room}/messages", json={"body": body})
    assert response.status_code == 400 and response.json()["code"] == "invalid" and response.json()["error"]
    with alice.socket() as ws:
        ws.send_json({"type": "send", "room": room, "body": body})
        assert ws.next("ack", "error")["code"] == "invalid"
    assert rows(fake_pair, "SELECT count(*) FROM messages") == [(0,)]


def test_the_longest_body_and_newlines_are_fine(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    for body in ("y" * 2000, "two\nlines\tand a tab"):
        assert alice.post(f"/api/rooms/{room}/messages", json={"body": body}).status_code == 201
    stored = [r[0] for r in rows(fake_pair, "SELECT body FROM messages ORDER BY seq")]
    assert stored == ["y" * 2000, "two\nlines\tand a tab"]


def test_malformed_frames_get_errors_and_the_socket_survives(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    with alice.socket() as ws:
        for frame, code in [("not json", "bad_json"), ("[1, 2]", "bad_type"),
                            ('{"type": "shout"}', "bad_type"),
                            ('{"type": "join", "room": "1"}', "bad_room"),
                            ('{"type": "join", "room": true}', "bad_room"),
                            (json.dumps({"type": "join", "room": room, "after": -1}), "bad_after")]:
            ws.ws.send(frame)
            assert ws.next("error")["code"] == code, frame
        assert ws.join(room)["type"] == "joined"


@pytest.mark.parametrize("frame, code", [("x" * (8 * 1024 + 1), 1009), (b"\x00binary", 1003)])
def test_oversized_and_binary_frames_close_the_socket(fake_pair, frame, code):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    with alice.socket() as ws:
        ws.next("hello")
        ws.ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            ws.next()
        assert closed.value.rcvd.code == code


def test_request_bodies_are_capped(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    big = alice.post(f"/api/rooms/{room}/messages", data=json.dumps({"body": "z" * 20_000}),
                     headers={"Content-Type": "application/json"})
    assert big.status_code == 413


# ---- fan-out, presence, resume ------------------------------------------------------------

def test_a_message_sent_on_one_instance_reaches_the_other(pair):
    alice = ChatClient(pair.a.url).signup("alice")
    bob = ChatClient(pair.b.url).signup("bob")
    room = room_with(alice, bob)
    with alice.socket() as wa, bob.socket() as wb:
        wa.join(room), wb.join(room)
        ack = wa.send(room, "hello from a")
        got = wb.next("message")
        assert (got["seq"], got["user"], got["body"]) == (ack["seq"], "alice", "hello from a")
        assert wa.next("message")["seq"] == ack["seq"]  # the sender gets it too, in order
        assert wb.send(room, "hello from b")["type"] == "ack"
        assert wa.next("message")["body"] == "hello from b"


def presence_becomes(ws: ChatSocket, online: list[str]) -> None:
    """Read presence frames until one lists ``online`` (TimeoutError if none does)."""
    while ws.next("presence")["online"] != online:
        pass


def test_presence_spans_instances(pair):
    alice = ChatClient(pair.a.url).signup("alice")
    bob = ChatClient(pair.b.url).signup("bob")
    room = room_with(alice, bob)
    with alice.socket() as wa:
        wa.join(room)
        presence_becomes(wa, ["alice"])
        with bob.socket() as wb, bob.socket(pair.a.url) as wb2:
            wb.join(room), wb2.join(room)
            presence_becomes(wa, ["alice", "bob"])
            assert alice.get(f"/api/rooms/{room}/presence").json()["online"] == ["alice", "bob"]
            wb.close()
            online = alice.get(f"/api/rooms/{room}/presence").json()["online"]
            assert online == ["alice", "bob"]  # bob's other socket is still open
        presence_becomes(wa, ["alice"])
    deadline = time.monotonic() + 5  # alice's socket closes; the server removes her a moment later
    while alice.get(f"/api/rooms/{room}/presence").json()["online"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alice.get(f"/api/rooms/{room}/presence").json()["online"] == []


def test_reconnecting_resumes_without_loss_or_duplicates(any_pair):
    pair = any_pair
    alice = ChatClient(pair.a.url).signup("alice")
    bob = ChatClient(pair.b.url).signup("bob")
    room = room_with(alice, bob)
    with bob.socket() as wb:
        wb.join(room)
        with alice.socket() as wa:
            wa.join(room)
            for n in range(1, 4):
                wa.send(room, f"m{n}")
            seen = [wa.next("message")["seq"] for _ in range(3)]
        for n in range(4, 7):  # while alice is away, on the other instance
            wb.send(room, f"m{n}")
    with alice.socket(pair.b.url) as wa:
        assert wa.join(room, after=seen[-1])["seq"] == 6
        with bob.socket(pair.a.url) as wb:
            wb.join(room, after=6)
            wb.send(room, "m7")
        wa.next("message")
        wa.drain()
        assert [(m["seq"], m["body"]) for m in wa.messages(room)] == [(n, f"m{n}") for n in range(4, 8)]


def test_a_message_pub_sub_never_delivered_is_read_from_the_database(pair):
    """pub/sub is at-most-once: a message stored but never published (an instance died
    between commit and publish) reaches the live clients with the next one, in order."""
    alice = ChatClient(pair.a.url).signup("alice")
    bob = ChatClient(pair.b.url).signup("bob")
    room = room_with(alice, bob)
    with bob.socket() as wb:
        wb.join(room)
        lost, created = pair.a.app.state.chat.messages.store(1, room, "stored, never published")
        assert created and lost["seq"] == 1
        alice.post(f"/api/rooms/{room}/messages", json={"body": "next"})
        wb.next("message"), wb.next("message")
        wb.drain()
        received = [(m["seq"], m["body"]) for m in wb.messages(room)]
        assert received == [(1, "stored, never published"), (2, "next")]


def test_a_retried_send_is_stored_and_delivered_once(pair):
    alice = ChatClient(pair.a.url).signup("alice")
    room = room_with(alice)
    with alice.socket() as wa, alice.socket(pair.b.url) as wb:
        wa.join(room), wb.join(room)
        first = wa.send(room, "once", nonce="retry-1")
        again = wb.send(room, "once", nonce="retry-1")  # the ack was lost; the client retries elsewhere
        http = alice.post(f"/api/rooms/{room}/messages", json={"body": "once", "nonce": "retry-1"}).json()
        assert first["duplicate"] is False and again["duplicate"] is True and http["duplicate"] is True
        assert first["seq"] == again["seq"] == http["seq"] == 1
        wa.next("message")
        wa.drain()
        assert len(wa.messages(room)) == 1
    assert rows(pair, "SELECT count(*) FROM messages") == [(1,)]


def test_concurrent_senders_on_both_instances_get_gapless_numbers_delivered_in_order(any_pair):
    pair = any_pair
    users = [ChatClient(pair.servers[i % 2].url).signup(f"user{i}") for i in range(4)]
    room = room_with(users[0], *users[1:])
    listener = users[0].socket(pair.b.url)
    listener.join(room)
    sockets = [u.socket() for u in users]
    barrier = threading.Barrier(len(sockets))
    acks: list[int] = []

    def send_five(ws: ChatSocket, i: int) -> None:
        ws.join(room)
        barrier.wait()
        for k in range(5):
            acks.append(ws.send(room, f"{i}-{k}")["seq"])

    threads = [threading.Thread(target=send_five, args=(ws, i)) for i, ws in enumerate(sockets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(acks) == list(range(1, 21))
    while len(listener.messages(room)) < 20:
        listener.next("message")
    listener.drain()
    assert [m["seq"] for m in listener.messages(room)] == list(range(1, 21))
    for ws in [listener, *sockets]:
        ws.close()
    assert rows(pair, "SELECT min(seq), max(seq), count(DISTINCT seq) FROM messages") == [(1, 20, 20)]


def test_the_rate_limit_is_per_user_and_counts_on_both_instances(pair):
    alice = ChatClient(pair.a.url).signup("alice")
    bob = ChatClient(pair.a.url).signup("bob")
    room = room_with(alice, bob)
    results = []
    for n in range(21):
        client = alice if n % 2 else alice.at(pair.b.url)
        results.append(client.post(f"/api/rooms/{room}/messages", json={"body": f"spam {n}"}))
    assert [r.status_code for r in results] == [201] * 20 + [429]
    assert results[-1].json()["code"] == "rate_limited" and int(results[-1].headers["Retry-After"]) > 0
    with alice.socket() as ws:
        assert ws.send(room, "one more")["code"] == "rate_limited"
    assert bob.post(f"/api/rooms/{room}/messages", json={"body": "bob is fine"}).status_code == 201
    pair.clock.advance(10)
    assert alice.post(f"/api/rooms/{room}/messages", json={"body": "later"}).status_code == 201
    assert rows(pair, "SELECT count(*) FROM messages") == [(22,)]


def test_history_pages_by_seq(fake_pair):
    alice = ChatClient(fake_pair.a.url).signup("alice")
    room = room_with(alice)
    for n in range(5):
        alice.post(f"/api/rooms/{room}/messages", json={"body": f"n{n}"})
    page = alice.get(f"/api/rooms/{room}/messages", params={"after": 1, "limit": 2}).json()
    assert [m["seq"] for m in page["messages"]] == [2, 3] and page["last_seq"] == 3
    for bad in ("-1", "x", "201"):
        assert alice.get(f"/api/rooms/{room}/messages", params={"limit": bad}).status_code == 400


def test_the_load_run_delivers_every_message(fake_pair):
    users = [ChatClient(fake_pair.a.url).signup(f"load{i}") for i in range(4)]
    room = room_with(users[0], *users[1:], name="load")
    result = load_run([fake_pair.a.url, fake_pair.b.url], [u.token for u in users], room, messages=3)
    assert (result.sent, result.delivered, result.expected) == (12, 48, 48)
    assert (result.duplicates, result.out_of_order) == (0, 0)
    assert len(result.latencies) == 48 and 0 < result.percentile(50) <= result.percentile(95) < 30


def test_start_pair_shares_one_database_and_cleans_up(pair):
    assert pair.a.url != pair.b.url and pair.a.url.startswith("http://127.0.0.1:")
    assert pair.a.app.state.chat.engine is pair.b.app.state.chat.engine
    ChatClient(pair.a.url).signup("alice")
    assert pair.redis.sync().exists(f"{pair.redis.prefix}:login:rate:alice") == 1
    pair.stop()
    assert pair.redis.clear() == []


def test_the_tables_are_the_data_model():
    assert sorted(chat_db.metadata.tables) == ["memberships", "messages", "rooms", "sessions", "users"]


# ---- schemathesis ---------------------------------------------------------------------------

schema = schemathesis.openapi.from_dict(OPENAPI)
SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), print_blob=False)


@pytest.fixture
def api(monkeypatch):
    """The reference chat with a public and a private room, and alice's bearer header."""
    chat = start("fakeredis", monkeypatch)
    alice = ChatClient(chat.a.url).signup("alice")
    room_with(alice, name="public")
    room_with(alice, name="private", private=True)
    alice.post("/api/rooms/1/messages", json={"body": "hello"})
    yield chat, {"Authorization": f"Bearer {alice.token}"}
    chat.check()
    chat.stop()


@schema.parametrize()
@SETTINGS
def test_the_chat_api_conforms_to_its_openapi(case, api):
    """Generated requests, logged in: no 5xx, documented statuses, bodies match their schemas."""
    chat, headers = api
    if case.path == "/api/logout":
        return  # it would end the session the other operations use; tested above
    case.call_and_validate(base_url=chat.a.url, headers=headers)


# ---- the graded project (solutions/10c-chat) writes this app ------------------------------

#: The graded project: what the learner's %%writefile cells write must be the reference app.
SOLUTION = REPO / "solutions" / "10c-chat" / "10c-chat.ipynb"
REFERENCE = REPO / "helpers" / "chat_app"


def test_the_reference_app_is_what_the_project_notebook_writes():
    assert_notebook_writes(SOLUTION, "chat", REFERENCE)


def test_the_app_serves_the_modules_written_so_far(tmp_path, monkeypatch):
    """After milestone 1 only (auth.py; no rooms, messages, ws, limits): accounts work, /ws is
    not routed, and nothing is limited; the project's first tests run in that state."""
    package = tmp_path / "chat"
    package.mkdir()
    for name in ("__init__", "db", "errors", "hub", "api", "auth"):
        (package / f"{name}.py").write_text((REFERENCE / f"{name}.py").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    pair = start_pair("chat")
    try:
        assert pair.package.__file__ == str(package / "__init__.py")
        alice = ChatClient(pair.a.url).signup("alice")
        assert alice.at(pair.b.url).get("/api/me").json()["username"] == "alice"
        assert alice.post("/api/tickets").status_code == 201
        assert handshake_status(pair.a.ws_url + "/ws", {"Authorization": f"Bearer {alice.token}"}) != 101
        assert pair.a.app.state.chat.rooms is None and pair.a.app.state.chat.messages is None
        pair.check()
    finally:
        pair.stop()
        for name in [m for m in sys.modules if m == "chat" or m.startswith("chat.")]:
            del sys.modules[name]
