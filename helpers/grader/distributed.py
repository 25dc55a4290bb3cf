"""Grading on several machines: the grade command's workers as Celery workers over a broker.

``python -m helpers.course grade 01 --broker amqp://...`` (or ``GRADER_BROKER_URL``)
sends one Celery task per submission to a queue; ``python -m helpers.course
grade-worker --broker amqp://...`` runs a worker, on as many machines as the class
needs. Nothing here is imported on the default, single-machine path.

What travels, and why (each worker machine shares nothing with the instructor's but
the broker and the gradebook):

- **the task message** carries the course's ``nbgrader_config.py``, the assignment's
  source files that are not notebooks (nbgrader copies those into every autograded
  folder; the notebooks themselves, hidden tests included, are already in the
  gradebook), and the student's submitted files with their ``timestamp.txt``;
- **the gradebook** is nbgrader's ``db_url``, a PostgreSQL database every worker
  writes to (SQLite, a file on the instructor's disk, is refused). The worker uses
  ``GRADER_DB_URL`` from its own environment when set (a Kubernetes Secret), else the
  course's ``db_url`` without its password;
- **the task result** carries back the autograded folder, the feedback folder and
  the tamper guard's flags, which the command writes into the course directory, so
  ``autograded/``, ``feedback/`` and ``grades.csv`` are where nbgrader's own commands
  put them.

Each worker grades in a work directory of its own (``GRADER_WORKDIR``, one folder per
course version), with the same :class:`helpers.grader.workers.Grader` as the local
pool, so confinement (``GRADER_CONFINE=1`` on the worker) and the tamper guard apply
as they do on one machine.

A worker that dies mid-submission loses nothing: tasks are acknowledged only when
they finish (``task_acks_late``), one at a time (``worker_prefetch_multiplier=1``), so
the broker hands an unfinished submission to another worker as soon as the dead one's
connection drops. Grading it twice is harmless and counted once: nbgrader's
``autograde --force`` replaces the student's earlier gradebook entry (one row per
student and assignment), and the command keeps one result per student and
submission timestamp, ignoring a late duplicate. A submission whose worker dies
:data:`MAX_STARTS` times is revoked (the last worker given it drops it) and reported as
failed, so one poison submission cannot take every worker down in turn.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from celery import Celery

from helpers.grader.workers import GradingError, Outcome

BROKER_ENV = "GRADER_BROKER_URL"
QUEUE_ENV = "GRADER_QUEUE"
WORKDIR_ENV = "GRADER_WORKDIR"
DB_URL_ENV = "GRADER_DB_URL"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_QUEUE = "grading"
TASK = "helpers.grader.grade_submission"
#: Workers that may start one submission (each start after the first means one died on it).
MAX_STARTS = 3
#: A worker's readiness file, in its work directory (the container's health probes test it).
READY_FILE = "ready"


# ---------------------------------------------------------------- both sides


def make_app(broker: str | None = None, queue: str | None = None) -> Celery:
    """A Celery app for ``broker`` (default: ``GRADER_BROKER_URL``) and ``queue``."""
    broker = broker or os.environ.get(BROKER_ENV) or DEFAULT_BROKER
    queue = queue or os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE
    app = Celery("grader", broker=broker, backend="rpc://", set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged when graded, so a dead worker's task is redelivered
        task_reject_on_worker_lost=True,  # ... also when a prefork child dies under it
        worker_prefetch_multiplier=1,  # a worker holds only the submission it is grading
        task_track_started=True,  # the command sees who started what (and a redelivery)
        task_default_queue=queue,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_persistent=False,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    app.task(name=TASK, bind=True)(_grade_task)
    return app


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode("ascii")


def _unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))


def _files(root: Path, under: Path) -> dict[str, str]:
    """Every file below ``root / under``, packed, by its path relative to ``root``."""
    base = root / under
    if not base.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): _pack(p.read_bytes())
            for p in sorted(base.rglob("*")) if p.is_file()}


def _safe_relative(rel: str, allowed: list[str]) -> Path:
    """``rel`` as a relative path inside one of ``allowed`` folders, or an error."""
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts or not any(
            path.parts[:len(Path(a).parts)] == Path(a).parts for a in allowed):
        raise GradingError(f"a grading worker sent a file outside its student's folders: {rel!r}")
    return path


# ---------------------------------------------------------------- in the worker

_graders: dict[tuple[str, str, str, bool], object] = {}


def _workdir(job: dict) -> Path:
    """This worker's copy of the course files the job carries (written once per version)."""
    root = Path(os.environ.get(WORKDIR_ENV) or Path.cwd() / "grader-work").resolve()
    # One folder per process and course version: processes of one worker never share a student's files.
    course = root / f"{job['course_id']}-{job['course_digest'][:16]}-{os.getpid()}"
    if not (course / "nbgrader_config.py").exists():
        staging = root / f".staging-{uuid.uuid4().hex}"
        for rel, packed in job["course_files"].items():
            target = staging / _safe_relative(rel, [""])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_unpack(packed))
        staging.rename(course)
    return course


def student_folders(assignment: str, student: str) -> list[str]:
    """What grading one submission writes, relative to the course directory."""
    return [f"autograded/{student}/{assignment}", f"feedback/{student}/{assignment}",
            f"flags/{assignment}/{student}"]


def _clean(course: Path, assignment: str, student: str) -> None:
    """Remove every file of ``student`` from a worker's course folder."""
    for rel in (f"submitted/{student}", f"autograded/{student}", f"feedback/{student}",
                f"flags/{assignment}/{student}"):
        shutil.rmtree(course / rel, ignore_errors=True)


def grade_job(job: dict) -> dict:
    """Grade the one submission ``job`` carries, in this worker's work directory."""
    from helpers.course.cells import kernel_env
    from helpers.grader.workers import Grader

    os.environ["PATH"] = kernel_env()["PATH"]
    course = _workdir(job)
    assignment, student = job["assignment"], job["student"]
    submitted = Path("submitted") / student / assignment
    _clean(course, assignment, student)  # what a worker killed while grading it left
    for rel, packed in job["submission"].items():
        target = course / _safe_relative(rel, [submitted.as_posix()])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_unpack(packed))
    db_url = os.environ.get(DB_URL_ENV) or job["db_url"]
    key = (str(course), assignment, db_url, job["feedback"])
    if key not in _graders:
        _graders[key] = Grader(course, assignment, job["feedback"], db_url=db_url)
    outcome = _graders[key].grade(student)
    files: dict[str, str] = {}
    for rel in student_folders(assignment, student):
        files.update(_files(course, Path(rel)))
    _clean(course, assignment, student)  # no student's work stays on the worker
    return {"outcome": asdict(outcome), "files": files, "timestamp": job["timestamp"],
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def _grade_task(self, job: dict) -> dict:
    """The Celery task: one submission (see :func:`grade_job`)."""
    return grade_job(job)


def _mark_ready(workdir: Path) -> None:
    """Create and remove the readiness file with the worker's life (container probes)."""
    from celery import signals

    ready = workdir / READY_FILE
    ready.unlink(missing_ok=True)  # left by a worker that was killed (a pod keeps its emptyDir)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_):
        ready.write_text(str(os.getpid()))

    @signals.worker_shutdown.connect(weak=False)
    def _gone(**_):
        ready.unlink(missing_ok=True)


def run_worker(broker: str | None = None, queue: str | None = None, workdir: str | None = None,
               concurrency: int = 1) -> int:
    """``python -m helpers.course grade-worker``: grade submissions from the queue until stopped.

    One submission at a time per process; ``concurrency`` > 1 runs that many processes
    (Celery's prefork pool). On Kubernetes, prefer one per pod and scale the replicas.
    """
    import warnings

    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy's autoflush notes, as the pool does
    root = Path(workdir or os.environ.get(WORKDIR_ENV) or Path.cwd() / "grader-work").resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.environ[WORKDIR_ENV] = str(root)
    import nbgrader.apps.api  # noqa: F401 - imported before "ready", not during the first submission

    app = make_app(broker, queue)
    _mark_ready(root)
    pool = ["--pool=solo"] if concurrency <= 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
    app.worker_main(["worker", *pool, "--queues", app.conf.task_default_queue,
                     "--hostname", f"grader-{os.getpid()}@{socket.gethostname()}",
                     "--without-gossip", "--without-mingle", "--loglevel=INFO"])
    return 0


# ---------------------------------------------------------------- in the command


def _course_bundle(course_dir: Path, coursedir, assignment: str) -> tuple[dict[str, str], str]:
    """The files a worker needs to grade ``assignment``, and their digest."""
    files = {"nbgrader_config.py": _pack((course_dir / "nbgrader_config.py").read_bytes())}
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
                files[path.relative_to(course_dir).as_posix()] = _pack(path.read_bytes())
    digest = hashlib.sha256()
    for rel, packed in files.items():
        digest.update(rel.encode() + b"\0" + packed.encode() + b"\0")
    return files, digest.hexdigest()


def worker_db_url(db_url: str) -> str:
    """The gradebook URL sent to workers: the course's, without its password."""
    from sqlalchemy.engine import URL, make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        raise GradingError(
            f"Grading on several machines needs a gradebook every machine can reach, not "
            f"{db_url}. Set c.CourseDirectory.db_url in nbgrader_config.py to a PostgreSQL "
            "database (e.g. postgresql+psycopg://grader@db.example.org/course) and run "
            "nbgrader generate_assignment again to fill it.")
    without = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
    return without.render_as_string(hide_password=False)


def _write_result(course_dir: Path, assignment: str, student: str, files: dict[str, str]) -> None:
    """Put a worker's autograded, feedback and flag files where nbgrader's commands put them."""
    allowed = student_folders(assignment, student)
    paths = {rel: _safe_relative(rel, allowed) for rel in files}
    for rel in allowed:
        shutil.rmtree(course_dir / rel, ignore_errors=True)  # as autograde --force does
    # The autograded notebook last: its presence (with timestamp.txt) is what marks "graded".
    for rel, path in sorted(paths.items(), key=lambda item: item[0].startswith("autograded/")):
        target = course_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_unpack(files[rel]))


def grade_remotely(course_dir: Path, coursedir, assignment: str, students: list[str], broker: str,
                   queue: str | None = None, feedback: bool = True,
                   on_event: Callable[[str, int, str], None] | None = None,
                   done: Callable[[Outcome], None] | None = None,
                   timeout: float | None = None) -> list[Outcome]:
    """Send one task per student to ``queue`` and collect every result, once per student.

    ``on_event(event, pid, student)`` hears ``"started"`` when a worker takes a
    submission and ``"redelivered"`` when another worker takes it again after the first
    died. ``timeout`` (seconds, default none) bounds the wait for workers.
    """
    on_event = on_event or (lambda event, pid, student: None)
    db_url = worker_db_url(coursedir.db_url)
    course_files, digest = _course_bundle(course_dir, coursedir, assignment)
    app = make_app(broker, queue)
    pending = {}
    try:
        for student in students:
            submitted = course_dir / "submitted" / student / assignment
            stamp = submitted / "timestamp.txt"
            job = {"course_id": coursedir.course_id, "course_digest": digest, "course_files": course_files,
                   "assignment": assignment, "student": student, "db_url": db_url, "feedback": feedback,
                   "timestamp": stamp.read_text().strip() if stamp.exists() else "",
                   "submission": _files(course_dir, submitted.relative_to(course_dir))}
            task_id = f"{assignment}.{student}.{uuid.uuid4().hex}"
            pending[student] = (job["timestamp"], app.send_task(TASK, args=[job], task_id=task_id,
                                                                 queue=app.conf.task_default_queue))
    except Exception as error:  # kombu's OperationalError, a refused connection, ...
        raise GradingError(f"cannot send the submissions to the broker {_hide(broker)}: {error}") from error
    outcomes: dict[str, Outcome] = {}
    starts: dict[str, set[str]] = {s: set() for s in students}
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while pending:
            if deadline is not None and time.monotonic() > deadline:
                raise GradingError(f"{len(pending)} submission(s) not graded after {timeout} s: "
                                   f"{', '.join(sorted(pending))}; are workers running on queue "
                                   f"{app.conf.task_default_queue!r}?")
            for student, (timestamp, result) in list(pending.items()):
                meta = app.backend.get_task_meta(result.id)  # one look: state and its details
                state = meta["status"]
                if state == "STARTED":
                    info = meta.get("result") or {}
                    who = f"{info.get('hostname')}:{info.get('pid')}"
                    if who not in starts[student]:
                        starts[student].add(who)
                        on_event("started" if len(starts[student]) == 1 else "redelivered",
                                 int(info.get("pid") or 0), student)
                    if len(starts[student]) == MAX_STARTS:
                        result.revoke()  # this last try runs on; a worker given it again drops it
                elif state == "REVOKED":
                    del pending[student]
                    outcomes[student] = Outcome(student, graded=False, attempts=0, reason=(
                        f"{len(starts[student])} workers died grading it (killed, or out of "
                        "memory); it was withdrawn from the queue"))
                    if done:
                        done(outcomes[student])
                elif state in ("SUCCESS", "FAILURE"):
                    del pending[student]
                    if state == "SUCCESS":
                        value = result.result
                        if value["timestamp"] != timestamp:
                            raise GradingError(f"a worker returned {student}'s submission of "
                                               f"{value['timestamp']!r}, not {timestamp!r}")
                        outcome = Outcome(**value["outcome"])
                        outcome.attempts = max(outcome.attempts, len(starts[student]))
                        _write_result(course_dir, assignment, student, value["files"])
                    else:
                        outcome = Outcome(student, graded=False,
                                          reason=f"the worker failed: {result.result!r}")
                    outcomes[student] = outcome
                    if done:
                        done(outcome)
            time.sleep(0.2)
    finally:
        for _, result in pending.values():
            result.revoke()  # stopped early: workers drop what is left
        app.close()
    return [outcomes[s] for s in students if s in outcomes]


def _hide(url: str) -> str:
    """``url`` without its password, for messages."""
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)
