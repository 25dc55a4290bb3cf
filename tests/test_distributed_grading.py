"""Grading on several machines (helpers/grader/distributed.py): Celery over RabbitMQ, PostgreSQL gradebook.

Two ``grade-worker`` processes, each with a work directory of its own, stand in for
two machines; they reach the instructor's course only through the real RabbitMQ
(the task messages and their results) and the real PostgreSQL (the gradebook) on
127.0.0.1. One is killed (SIGKILL) while it grades a submission; every submission
must still be graded exactly once, with the per-cell scores of a local run.

Each run uses a fresh PostgreSQL database and a fresh queue, both removed at the end.
An unreachable server skips the test with the reason. The URLs can be changed with
LAB_TEST_AMQP_URL and LAB_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.course import proofs
from helpers.course.grading import Result, ScratchCourse, gradebook_results, nbgrader_env
from helpers.grader import command
from helpers.grader.startup import nbgrader_command
from tests.servers import AMQP as BROKER
from tests.servers import POSTGRES, broker_unreachable, database_unreachable

REPO = Path(__file__).resolve().parents[1]

ASSIGNMENT = "01-fundamentals"


def unreachable() -> str | None:
    """Why the test cannot run here (None when RabbitMQ and PostgreSQL both answer)."""
    try:
        import kombu  # noqa: F401 (celery's transport)
    except ImportError:
        return "celery is not installed (pip install -e '.[distributed]')"
    return broker_unreachable(BROKER) or database_unreachable(POSTGRES)


@pytest.fixture
def gradebook_url():
    """A fresh PostgreSQL database for this run's gradebook, dropped afterwards."""
    reason = unreachable()
    if reason:
        pytest.skip(reason)
    name = f"lab_grader_{secrets.token_hex(4)}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def queue():
    """A queue name of this run's own, deleted from the broker afterwards."""
    name = f"lab-grading-{secrets.token_hex(4)}"
    yield name
    from kombu import Connection

    with Connection(BROKER, connect_timeout=2) as conn:
        conn.default_channel.queue_delete(name)


def start_worker(workdir: Path, queue: str) -> subprocess.Popen:
    """A ``grade-worker`` process (a stand-in for one machine) grading in ``workdir``."""
    workdir.mkdir(parents=True)
    # Nothing of the grading command's settings but confinement, which both runs share.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_") or k == "GRADER_CONFINE"}
    with open(workdir.parent / f"{workdir.name}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "helpers.course", "grade-worker", "--broker", BROKER, "--queue", queue,
             "--workdir", str(workdir)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_ready(workdirs: list[Path], procs: list[subprocess.Popen], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not all((w / "ready").exists() for w in workdirs):
        for proc, workdir in zip(procs, workdirs, strict=True):
            if proc.poll() is not None:
                log = (workdir.parent / f"{workdir.name}.log").read_text(errors="replace")
                pytest.fail(f"a grading worker exited ({proc.returncode}) before it was ready:\n"
                            f"{log[-3000:]}")
        assert time.monotonic() < deadline, "the grading workers did not get ready within a minute"
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop the workers this test started (and their kernels: each has its own session)."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left in its session: a killed worker's kernel
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def results(db_url: str, students: list[str]) -> dict[str, Result]:
    """Per-cell scores from a gradebook at ``db_url``."""
    return gradebook_results(db_url, ASSIGNMENT, students)


def per_cell(found: dict[str, Result]) -> dict[str, tuple[dict, dict]]:
    return {student: (r.scores, r.max_scores) for student, r in found.items()}


@pytest.mark.grading
@pytest.mark.realserver
def test_two_workers_one_killed_grade_every_submission_exactly_once(tmp_path, gradebook_url, queue):
    start = time.monotonic()
    # Two stand-in machines, started first so that they warm up during the local run.
    workdirs = [tmp_path / "machine-a", tmp_path / "machine-b"]
    procs = [start_worker(w, queue) for w in workdirs]
    try:
        course = ScratchCourse(tmp_path / "local", ASSIGNMENT)
        course.generate()
        batch = {e.student: e for e in proofs.build_batch(course.source_notebook, course.released_notebook,
                                                           ASSIGNMENT)}
        mistakes = [name for name in batch if name.startswith("mistakes-")][:3]
        names = ["solution", "untouched-release", *mistakes, "tampered-release"]
        for name in names:
            course.submit(name, batch[name].notebook)
            stamp = course.root / "submitted" / name / ASSIGNMENT / "timestamp.txt"
            stamp.write_text("2026-11-29 12:00:00.000000 UTC")  # as nbgrader collect writes it
        remote = course.copy(tmp_path / "instructor")
        with open(remote.root / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {gradebook_url!r}\n")
        # Fill the PostgreSQL gradebook while the local reference run grades.
        filling = subprocess.Popen([*nbgrader_command("generate_assignment"), ASSIGNMENT,
                                    "--force"], cwd=remote.root, env=nbgrader_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        began = time.monotonic()
        local = command.grade(ASSIGNMENT, course.root, workers=2, force=True, export=False)
        local_seconds = time.monotonic() - began
        output, _ = filling.communicate(timeout=120)
        assert filling.returncode == 0, f"nbgrader generate_assignment failed:\n{output}"
        assert sorted(o.student for o in local.graded) == sorted(names), local.report()
        wait_ready(workdirs, procs)
        print(f"\nlocal run {local_seconds:.1f} s; workers ready at {time.monotonic() - start:.1f} s")

        events, killed = [], []

        def kill_a_worker_mid_batch(event, pid, student):
            """SIGKILL the first worker to start its second submission, while it grades it."""
            print(f"{time.monotonic() - start:.1f} s: {event} {student} on {pid}")
            if event == "started" and not killed and any(e[1] == pid for e in events):
                assert pid in {p.pid for p in procs}, f"pid {pid} is one of the two grade-workers"
                killed.append((pid, student))
                os.kill(pid, signal.SIGKILL)
            events.append((event, pid, student))

        began = time.monotonic()
        summary = command.grade(ASSIGNMENT, remote.root, broker=BROKER, queue=queue,
                                on_event=kill_a_worker_mid_batch, timeout=120)
        distributed_seconds = time.monotonic() - began

        assert killed, "a worker was killed while it held a submission"
        pid, student = killed[0]
        assert next(p for p in procs if p.pid == pid).wait(timeout=10) == -signal.SIGKILL
        survivor = next(p for p in procs if p.pid != pid)
        assert survivor.poll() is None, "the other worker is still running"
        assert ("redelivered", survivor.pid, student) in events, (
            f"the broker gave {student} to the other worker after the kill: {events}")
        assert sorted(o.student for o in summary.graded) == sorted(names), summary.report()
        assert summary.failed == []
        assert summary.workers == 2

        # Exactly once: one gradebook submission per student, the scores of the local run.
        engine = sa.create_engine(gradebook_url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT s.student_id, count(*) FROM submitted_assignment s JOIN assignment a "
                "ON a.id = s.assignment_id WHERE a.name = :a GROUP BY s.student_id"), {"a": ASSIGNMENT}).all()
        engine.dispose()
        assert dict(rows) == dict.fromkeys(names, 1)
        remote_results, local_results = results(gradebook_url, names), course.results()
        differ = {s: {cell: (score, remote_results[s].scores.get(cell)) for cell, score in r.scores.items()
                      if remote_results[s].scores.get(cell) != score}
                  for s, r in local_results.items() if per_cell({s: r}) != per_cell({s: remote_results[s]})}
        assert differ == {}, f"cells scored differently (local, distributed): {differ}"
        assert per_cell(remote_results) == per_cell(local_results)
        # ... and what the proof batch says each submission loses (tests/test_grading.py's oracle).
        assert {s: r.lost() for s, r in remote_results.items()} == {s: batch[s].lost for s in names}
        totals = {s: r.total for s, r in remote_results.items()}
        assert {o.student: o.score for o in summary.outcomes} == totals

        # The workers' files came back to the instructor's course; no student's work stays on a worker.
        for name in names:
            graded = remote.root / "autograded" / name / ASSIGNMENT
            assert (graded / f"{ASSIGNMENT}.ipynb").exists() and (graded / "timestamp.txt").read_text() == (
                remote.root / "submitted" / name / ASSIGNMENT / "timestamp.txt").read_text()
            assert (remote.root / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
        survivor_dir = workdirs[[p.pid for p in procs].index(survivor.pid)]
        assert not list(survivor_dir.glob("*/submitted/*")), "the worker removed what it graded"
        with open(remote.root / "grades.csv") as grades:
            assert len(grades.read().splitlines()) == len(names) + 1

        # Running the command again grades nothing: each submission is done once.
        again = command.grade(ASSIGNMENT, remote.root, broker=BROKER, queue=queue, timeout=30)
        assert again.outcomes == [] and sorted(again.skipped) == sorted(names)
    finally:
        stop(procs)
    print(f"\n{len(names)} submissions on 2 workers, one killed holding {killed[0][1]!r}: "
          f"{local_seconds:.1f} s locally (2 workers), {distributed_seconds:.1f} s distributed, "
          f"{time.monotonic() - start:.1f} s in all")


# ---------------------------------------------------------------- without servers


def test_the_default_path_does_not_import_celery():
    code = ("import sys, helpers.course.__main__, helpers.grader.command, helpers.grader.workers; "
            "print('celery' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert proc.stdout.strip() == "False"


def test_workers_on_other_machines_need_a_gradebook_they_reach():
    distributed = pytest.importorskip("helpers.grader.distributed")
    with pytest.raises(command.GradingError, match="PostgreSQL"):
        distributed.worker_db_url("sqlite:////course/gradebook.db")
    sent = distributed.worker_db_url("postgresql+psycopg://grader:s3cret@db.example.org:5432/course")
    assert sent == "postgresql+psycopg://grader@db.example.org:5432/course", "no password in task messages"


def test_a_worker_writes_only_its_students_folders(tmp_path):
    distributed = pytest.importorskip("helpers.grader.distributed")
    packed = distributed._pack(b"{}")
    for rel in ["autograded/bob/01-fundamentals/x.ipynb", "autograded/alice/../bob/01-fundamentals/x",
                "/etc/passwd", "submitted/alice/01-fundamentals/x.ipynb"]:
        with pytest.raises(command.GradingError, match="outside"):
            distributed._write_result(tmp_path, ASSIGNMENT, "alice", {rel: packed})
    assert list(tmp_path.iterdir()) == []
    distributed._write_result(tmp_path, ASSIGNMENT, "alice", {
        "autograded/alice/01-fundamentals/01-fundamentals.ipynb": packed,
        "feedback/alice/01-fundamentals/01-fundamentals.html": packed,
        "flags/01-fundamentals/alice/01-fundamentals.json": packed})
    assert (tmp_path / "autograded/alice/01-fundamentals/01-fundamentals.ipynb").read_bytes() == b"{}"


def test_the_worker_image_and_deployment_pass_step_06s_rules():
    from helpers.deploy_rules import check_dockerfile, check_isolation, check_manifests, rule_ids

    dockerfile = (REPO / "deploy/grader/Dockerfile").read_text()
    manifests = (REPO / "deploy/grader/workers.yaml").read_text()
    assert check_dockerfile(dockerfile) == []
    assert check_isolation(manifests) == []
    # Workers take no connections (they connect out to the broker): no Service to put in front.
    assert rule_ids(check_manifests(manifests)) == {"no-service"}


def test_the_deployment_runs_the_worker_the_module_describes():
    import yaml

    from helpers.deploy_rules import parse_dockerfile

    distributed = pytest.importorskip("helpers.grader.distributed")
    dockerfile = dict(parse_dockerfile((REPO / "deploy/grader/Dockerfile").read_text()))
    workdir = "/home/grader/work"
    assert f"GRADER_WORKDIR={workdir}" in dockerfile["ENV"] and workdir in dockerfile["CMD"]
    assert "grade-worker" in dockerfile["CMD"]
    deployment = next(d for d in yaml.safe_load_all((REPO / "deploy/grader/workers.yaml").read_text())
                      if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ready = f"{workdir}/{distributed.READY_FILE}"
    assert container["readinessProbe"]["exec"]["command"] == ["test", "-f", ready]
    assert ready in dockerfile["HEALTHCHECK"]
    env = {e["name"]: e for e in container["env"]}
    assert {distributed.BROKER_ENV, distributed.DB_URL_ENV} <= set(env)
    assert all("valueFrom" in env[name] for name in (distributed.BROKER_ENV, distributed.DB_URL_ENV))
    assert env["GRADER_CONFINE"]["value"] == "1"
