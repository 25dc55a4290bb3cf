"""Steps 03 and 11a on real servers: PostgreSQL and MariaDB (DATABASE_URL), Redis (REDIS_URL),
and for 11a also RabbitMQ (BROKER_URL) and NATS JetStream (NATS_URL).

nbval checks the walkthrough's committed outputs on the default path (SQLite and
fakeredis). Here the same walkthrough and the same grading proofs run again with the
environment variable pointing at a real server, when one is reachable:

- the walkthrough executes top to bottom in a fresh kernel with no error and no stderr,
  and says it used that server (outputs differ between engines, so they are not compared);
- the exercises' proof batch (tests/test_grading.py's, built by helpers.course.proofs)
  autogrades as it does on SQLite: the solution full marks, the release zero, every
  wrong answer of tests/mistakes/03-databases.yaml losing exactly its cells.

Each run sets ``LAB_RUN_ID`` to a fresh value, so the schemas, databases and Redis keys
it creates have names of their own (``lab_<run>_...``, ``lab:<run>_...``); the notebook
removes its own, and the test removes whatever a killed kernel left behind.

Step 11a's walkthrough runs once with every one of its servers that answers set at once
(the broker, Redis, PostgreSQL, NATS), and must say it used each of them.

Step 11b's walkthrough runs with MEMCACHED_URL pointing at a private memcached started on a
free port (tests/servers.py; skipped without the binary: apt-get install memcached), and
must print exactly its committed outputs (as nbval compares them: sanitised, the cells
marked NBVAL_IGNORE_OUTPUT left out), apart from the line naming the server.

Servers are probed with a short timeout; an unreachable one is skipped with the reason
printed. The URLs can be changed with LAB_TEST_POSTGRES_URL, LAB_TEST_MARIADB_URL,
LAB_TEST_REDIS_URL, LAB_TEST_AMQP_URL and LAB_TEST_NATS_URL.
"""

from __future__ import annotations

import re
import secrets
from configparser import ConfigParser
from contextlib import contextmanager
from dataclasses import dataclass

import nbformat
import pytest
import redis
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import databases
from helpers.course import proofs
from helpers.course.grading import ScratchCourse, answer_cells, graded_cells, read
from helpers.course.steps import NOTEBOOKS, REPO
from tests.servers import (
    AMQP,
    MARIADB,
    NATS,
    POSTGRES,
    REDIS,
    broker_unreachable,
    database_unreachable,
    memcached_keys,
    redis_unreachable,
    tcp_unreachable,
)

pytestmark = pytest.mark.realserver

STEP = "03-databases"


@dataclass(frozen=True)
class Server:
    name: str
    env_var: str  # what the notebook reads
    url: str
    says: str  # what the notebook prints when it uses this server


SERVERS = [
    Server("postgresql", "DATABASE_URL", POSTGRES, "Database: PostgreSQL"),
    Server("mariadb", "DATABASE_URL", MARIADB, "Database: MariaDB"),
    Server("redis", "REDIS_URL", REDIS, "Key-value store: Redis"),
]


def unreachable(server: Server) -> str | None:
    """Why ``server`` cannot be used (None when it answers), probing with a short timeout."""
    if server.env_var == "REDIS_URL":
        return redis_unreachable(server.url)
    return database_unreachable(server.url, expect="MariaDB" if server.name == "mariadb" else None)


@contextmanager
def use_server(srv: Server, monkeypatch):
    """Point the environment at ``srv`` (skipping, with the reason, when it does not answer)
    with a fresh run id; remove what the run left on the server afterwards."""
    reason = unreachable(srv)
    if reason:
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    run_id = f"t{secrets.token_hex(3)}"
    for var in ("DATABASE_URL", "REDIS_URL"):  # only the server under test; the rest is default
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(srv.env_var, srv.url)
    monkeypatch.setenv("LAB_RUN_ID", run_id)
    leftovers: dict[str, list[str]] = {}
    yield srv, run_id, leftovers
    leftovers["removed"] = remove_leftovers(srv, run_id)


@pytest.fixture(params=SERVERS, ids=[s.name for s in SERVERS])
def server(request, monkeypatch):
    """The server under test, with its environment variable set and a fresh run id."""
    with use_server(request.param, monkeypatch) as used:
        yield used


def remove_leftovers(srv: Server, run_id: str) -> list[str]:
    """Drop every schema, database or key of this run still on the server; return their names."""
    if srv.env_var == "REDIS_URL":
        client = redis.Redis.from_url(srv.url, decode_responses=True, socket_connect_timeout=2)
        try:
            keys = sorted(client.scan_iter(match=f"lab:{run_id}_*", count=500))
            if keys:
                client.delete(*keys)
            return keys
        finally:
            client.close()
    return databases.drop_leftovers(srv.url, prefix=f"lab_{run_id}_")


def run_walkthrough(step: str, timeout: int, failure: str) -> nbformat.NotebookNode:
    """Execute notebooks/<step>.ipynb top to bottom in a fresh kernel and return it, executed;
    on a cell's error fail the test with ``failure`` and the error (a cell may take ``timeout`` s)."""
    nb = nbformat.read(NOTEBOOKS / f"{step}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{failure}:\n{error}")
    return nb


def outputs(nb) -> tuple[str, list[str]]:
    """All stdout text of ``nb``, and the sources of cells that wrote to stderr."""
    stdout, noisy = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                stdout.append(out.text)
            elif out.output_type == "stream" and out.name == "stderr":
                noisy.append(cell.source.splitlines()[0] + " -> " + out.text.strip()[:200])
    return "".join(stdout), noisy


def test_walkthrough_runs_on_the_real_server(server):
    srv, run_id, _ = server
    nb = run_walkthrough(STEP, 300, f"the walkthrough failed on {srv.name} ({srv.url})")
    stdout, noisy = outputs(nb)
    assert srv.says in stdout, f"the notebook never says it used {srv.name}: no {srv.says!r} in its output"
    if srv.env_var == "REDIS_URL":
        assert "fakeredis" not in stdout, "with REDIS_URL set, the notebook must not fall back to fakeredis"
    assert noisy == [], f"cells wrote to stderr on {srv.name}: {noisy}"
    left = remove_leftovers(srv, run_id)
    assert left == [], f"the notebook left these behind on {srv.name}: {left}"


# The exercises that use Redis (REDIS_URL); the others use the database (DATABASE_URL).
REDIS_EXERCISES = {"q3_6-answer", "q3_7-answer"}


def engine_batch(course, server_name):
    """The part of the proof batch whose grade depends on ``server_name``: the solution,
    the untouched release and the catalogued mistakes of the exercises that talk to that
    server. Tampered and runaway submissions test nbgrader's handling, not the engine:
    tests/test_grading.py proves them on the default path."""
    solution, released = read(course.source_notebook), read(course.released_notebook)
    assert REDIS_EXERCISES <= set(answer_cells(solution)), "REDIS_EXERCISES is stale"
    redis = server_name == "redis"
    return [
        proofs.Expected("solution", solution, set(), "the instructor's solution"),
        proofs.Expected("untouched-release", released, set(graded_cells(solution)), "the release"),
        # A mistake wrong only on some engines (its `engines`) is graded only on those.
        *proofs.mistake_submissions(solution, STEP, keep=lambda m: (m.answer in REDIS_EXERCISES) == redis,
                                    engine=None if redis else server_name),
    ]


class GradingOnServer:
    """The proofs of step 03 on one server; a class per server (made below), so that
    pytest-xdist's loadscope grades the servers on different workers."""

    server_name: str

    @pytest.fixture
    def server(self, monkeypatch):
        with use_server(next(s for s in SERVERS if s.name == self.server_name), monkeypatch) as used:
            yield used

    @pytest.mark.grading
    def test_grading_proofs_hold_on_the_real_server(self, server, tmp_path):
        srv, _, _ = server
        course = ScratchCourse(tmp_path / STEP, STEP)
        course.generate()
        batch = engine_batch(course, srv.name)
        for expected in batch:
            course.submit(expected.student, expected.notebook)
        # Graded as test_grading.py grades (workers inherit os.environ: the server's variable is set).
        course.autograde(workers=proofs.proof_workers())
        results = course.results()
        max_scores = {grade_id: float(cell.metadata.nbgrader["points"])
                      for grade_id, cell in graded_cells(read(course.source_notebook)).items()}

        solution = results.get("solution")
        assert solution is not None, f"the solution was not graded on {srv.name}"
        assert solution.total == solution.max_total, (
            f"the solution lost points on {srv.name}: {sorted(solution.lost())}"
        )
        assert results["untouched-release"].total == 0, f"the release scored points on {srv.name}"
        problems = proofs.check_batch(batch, results, max_scores)
        assert problems == [], f"on {srv.name}:\n" + "\n".join(problems)


for _server in SERVERS:
    _name = f"TestGradingOn_{_server.name}"
    globals()[_name] = type(_name, (GradingOnServer,), {"server_name": _server.name})


# --- Step 11a: messaging and search ---------------------------------------------------------

STEP_11A = "11a-messaging-and-search"


def test_11a_walkthrough_runs_on_the_real_servers(monkeypatch):
    postgres, redis_server = SERVERS[0], SERVERS[2]
    wanted = {  # variable: (url, why it cannot be used or None, what the notebook prints with it)
        "BROKER_URL": (AMQP, broker_unreachable(AMQP), "RabbitMQ "),
        "REDIS_URL": (redis_server.url, unreachable(redis_server), "Redis "),
        "DATABASE_URL": (postgres.url, unreachable(postgres), "PostgreSQL full-text search"),
        "NATS_URL": (NATS, tcp_unreachable(NATS), "NATS JetStream at"),
    }
    for variable in wanted:
        monkeypatch.delenv(variable, raising=False)
    used = {v: (url, says) for v, (url, reason, says) in wanted.items() if reason is None}
    for reason in (reason for _, reason, _ in wanted.values() if reason):
        print(f"SKIPPED for 11a: {reason}")
    if not used:
        pytest.skip("none of step 11a's servers answers")
    run_id = f"t{secrets.token_hex(3)}"
    monkeypatch.setenv("LAB_RUN_ID", run_id)
    for variable, (url, _) in used.items():
        monkeypatch.setenv(variable, url)
    nb = run_walkthrough(STEP_11A, 120, f"the 11a walkthrough failed with {sorted(used)} set")
    stdout, noisy = outputs(nb)
    text = stdout + "\n".join(str(out.get("data", {}).get("text/plain", "")) for cell in nb.cells
                              if cell.cell_type == "code" for out in cell.outputs)
    for variable, (_, says) in used.items():
        assert says in text, f"with {variable} set the notebook never says it used that server ({says!r})"
    for fallback in ("memory://", "fakeredis", "SQLite", "NATS_URL is not set"):
        named = {"memory://": "BROKER_URL", "fakeredis": "REDIS_URL", "SQLite": "DATABASE_URL",
                 "NATS_URL is not set": "NATS_URL"}[fallback]
        if named in used:
            assert fallback not in stdout, f"with {named} set the notebook fell back to {fallback}"
    assert noisy == [], f"cells wrote to stderr: {noisy}"
    if "REDIS_URL" in used:
        left = remove_leftovers(redis_server, run_id)
        assert left == [], f"the notebook left these Redis keys behind: {left}"
        client_ = redis.Redis.from_url(redis_server.url, decode_responses=True, socket_connect_timeout=2)
        try:
            rq_left = sorted(client_.scan_iter(match=f"rq:*lab-{run_id}_*", count=500))
        finally:
            client_.close()
        assert rq_left == [], f"the notebook left these RQ keys behind: {rq_left}"
    if "DATABASE_URL" in used:
        left = databases.drop_leftovers(postgres.url, prefix=f"lab_{run_id}_")
        assert left == [], f"the notebook left these schemas behind: {left}"


# --- Step 11b: Memcached --------------------------------------------------------------------

STEP_11B = "11b-architecture-and-scale"


def sanitised(text: str) -> str:
    """``text`` with tests/nbval_sanitize.cfg's replacements applied, as nbval does."""
    config = ConfigParser()
    config.read(REPO / "tests" / "nbval_sanitize.cfg", encoding="utf-8")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def checked_outputs(nb) -> list[tuple[str, str]]:
    """(first line of source, sanitised text) of each cell nbval checks (not marked
    NBVAL_IGNORE_OUTPUT): its streams joined (a stream may arrive in any number of
    pieces, as nbval allows), then its text/plain results."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        streams = {name: "".join(o.text for o in cell.outputs if o.get("name") == name)
                   for name in ("stdout", "stderr")}
        results = [o.data.get("text/plain", "") for o in cell.outputs if "data" in o]
        text = "\n".join([streams["stdout"], streams["stderr"], *results])
        found.append((cell.source.splitlines()[0], sanitised(text)))
    return found


def test_11b_walkthrough_prints_the_same_on_a_real_memcached(memcached_url, monkeypatch):
    for variable in ("DATABASE_URL", "REDIS_URL"):  # the defaults, so only Memcached changes
        monkeypatch.delenv(variable, raising=False)
    run_id = f"t{secrets.token_hex(3)}"
    monkeypatch.setenv("MEMCACHED_URL", memcached_url)
    monkeypatch.setenv("LAB_RUN_ID", run_id)
    committed = nbformat.read(NOTEBOOKS / f"{STEP_11B}.ipynb", as_version=4)
    nb = run_walkthrough(STEP_11B, 120, f"the 11b walkthrough failed with MEMCACHED_URL={memcached_url}")
    stdout, noisy = outputs(nb)
    assert noisy == [], f"cells wrote to stderr: {noisy}"
    assert "Memcached: Memcached 1." in stdout, "the notebook never says it used the memcached server"
    assert "MockMemcacheClient" not in stdout, "with MEMCACHED_URL set the notebook fell back to the stand-in"
    ran, expected = checked_outputs(nb), checked_outputs(committed)
    differing = [(want, got) for want, got in zip(expected, ran, strict=False) if want != got]
    assert differing == [] and len(ran) == len(expected), (
        f"outputs on memcached differ from the committed ones (committed, got): {differing[:3]}")
    left = [k for k in memcached_keys(memcached_url) if run_id in k]
    assert left == [], f"the notebook left these keys on memcached: {left}"
