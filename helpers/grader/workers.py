"""A pool of long-lived processes, each grading one submission at a time with nbgrader.

Starting Python and importing nbgrader costs 2-3 s, and most of a submission's
grading time is spent waiting (for a kernel to start, for a test's timeout), so
the win is in workers that stay up and overlap their waiting: each worker loads
the course's nbgrader configuration once, then runs nbgrader's own ``Autograde``
converter (and ``GenerateFeedback``) in-process for one student at a time,
through :class:`nbgrader.apps.api.NbGraderAPI`, exactly as ``nbgrader autograde
ASSIGNMENT --student S`` does.

The parent hands out one student at a time over a pipe per worker, so it always
knows which submission each worker holds. ``size`` workers (the number of cores by
default) compute at once; a worker whose submission is *waiting* (a test's sleep or
timeout: its processes used under :data:`WAITING_BELOW` of a core for a second) does not
count while a core stands idle, so another worker grades the next submission meanwhile;
and while a core stays idle all the same (the short waits of every submission: a kernel
starting, a reply on its way), one more worker at a time computes too, up to twice
``size``, one fewer again once the machine is saturated. A worker that dies (killed, out of
memory) loses nothing: its submission goes back to the queue (once; a second
death fails it with that reason) and a fresh worker takes its place.

Every worker writes to the same gradebook. With SQLite, each connection waits up
to :data:`SQLITE_BUSY_SECONDS` for another worker's write to finish, and a
submission that still meets a lock is graded again (nbgrader's own transactions
make that safe: ``--force`` replaces the earlier attempt); so is one whose kernel
could not start (see :data:`TRANSIENT`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from helpers.grader.startup import skip_iri_grammar

#: How long one worker's gradebook connection waits for another's write (SQLite).
SQLITE_BUSY_SECONDS = 60
#: Attempts at one submission when grading fails for a reason that is not the submission's.
LOCK_RETRIES = 3
#: Such reasons: another worker's gradebook write (SQLite), and a kernel that could not
#: start because another process took its TCP port between choosing and binding it.
TRANSIENT = ("database is locked", "Address already in use",
             "Kernel died before replying to kernel_info")
#: Times a submission may take its worker down before it is failed.
MAX_WORKER_DEATHS = 2
#: A worker whose processes used less of a core than this over the last second is waiting.
WAITING_BELOW = 0.2
#: ... provided the machine had at least this much of a core idle over that second.
IDLE_AT_LEAST = 0.5
#: Cores idle below this: the machine is saturated, extra computing workers are let go.
SATURATED = 0.1
#: How often the parent looks at its workers, in seconds.
TICK = 0.25

#: Checks run after each submission is graded, in the worker:
#: ``check(course_dir, assignment, student) -> list of flags`` (e.g. "tampered: ...").
#: A flagged submission keeps its grade and is listed for review in the summary.
def tamper_flags(course_dir: Path, assignment: str, student: str) -> list[str]:
    """The tamper guard's reasons to review this submission (helpers/grader/tamper.py)."""
    from helpers.grader.tamper import flag_reasons

    return flag_reasons(course_dir, assignment, student)


CHECKS: list[Callable[[Path, str, str], list[str]]] = [tamper_flags]


@dataclass
class Outcome:
    """What happened to one submission."""

    student: str
    graded: bool
    seconds: float = 0.0
    score: float | None = None
    max_score: float | None = None
    reason: str = ""  # why it was not graded
    flags: list[str] = field(default_factory=list)  # reasons to review it (tamper checks)
    attempts: int = 1
    log: str = ""  # nbgrader's log for this submission


# ---------------------------------------------------------------- in the worker


def _busy_timeout(db_url: str) -> str:
    """``db_url`` with a busy timeout, if it is an SQLite URL that sets none."""
    if db_url.startswith("sqlite:") and "?" not in db_url:
        return f"{db_url}?timeout={SQLITE_BUSY_SECONDS}"
    return db_url


def failure_reason(log: str, error: str = "") -> str:
    """The line of nbgrader's log (or traceback) that says why a submission failed."""
    text = "\n".join(part for part in (log, error) if part)
    exceptions = [
        line.strip() for line in text.splitlines()
        if re.match(r"\s*[\w.]+(Error|Exception|Exit|Interrupt)\b(:|$)", line)
        and "NbGraderException" not in line
    ]
    if exceptions:
        return exceptions[-1][:300]
    errors = [line[len("[ERROR] "):] for line in text.splitlines() if line.startswith("[ERROR]")]
    return (errors[0] if errors else "nbgrader reported a failure without a message")[:300]


class Grader:
    """nbgrader, configured once from a course directory, grading one student at a time."""

    def __init__(self, course_dir: Path, assignment: str, feedback: bool = True,
                 db_url: str | None = None) -> None:
        """``db_url``, when given, replaces the configured gradebook (a distributed worker's)."""
        import logging

        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.apps.baseapp import NbGrader

        self.course_dir = Path(course_dir).resolve()
        self.assignment = assignment
        self.feedback = feedback
        os.chdir(self.course_dir)  # nbgrader reads nbgrader_config.py from the working directory
        app = NbGrader()
        app.load_config_file()
        config = app.config
        config.CourseDirectory.root = str(self.course_dir)
        config.GuardedExecute.quick_kernels = True  # helpers/grader/kernels.py
        if db_url:
            config.CourseDirectory.db_url = db_url
        self.api = NbGraderAPI(config=config)
        self.api.coursedir.db_url = _busy_timeout(self.api.coursedir.db_url)
        self.api.log.handlers[:] = [logging.NullHandler()]  # kept per submission in Outcome.log
        self.api.log.propagate = False

    def grade(self, student: str) -> Outcome:
        """Autograde (and write feedback for) ``student``'s submission."""
        start = time.monotonic()
        outcome = Outcome(student, graded=False)
        for attempt in range(1, LOCK_RETRIES + 1):
            result = self.api.autograde(self.assignment, student, force=True, create=True)
            outcome.attempts, outcome.log = attempt, result.get("log", "")
            if result["success"]:
                break
            if not any(sign in outcome.log + result.get("error", "") for sign in TRANSIENT):
                outcome.reason = failure_reason(outcome.log, result.get("error", ""))
                break
            time.sleep(random.uniform(0.1, 1.0))  # noqa: S311 - jitter, before trying again
        else:
            outcome.reason = (f"{LOCK_RETRIES} attempts failed before any student code ran: "
                              + failure_reason(outcome.log, result.get("error", "")))
        if result["success"]:
            outcome.graded = True
            outcome.score, outcome.max_score = self._score(student)
            if self.feedback:
                feedback = self.api.generate_feedback(self.assignment, student, force=True)
                if not feedback["success"]:
                    outcome.flags.append("no feedback: " + failure_reason(
                        feedback.get("log", ""), feedback.get("error", "")))
            for check in CHECKS:
                outcome.flags += check(self.course_dir, self.assignment, student)
        outcome.seconds = time.monotonic() - start
        return outcome

    def _score(self, student: str) -> tuple[float, float]:
        from nbgrader.api import Gradebook

        with Gradebook(self.api.coursedir.db_url, self.api.coursedir.course_id) as gb:
            submission = gb.find_submission(self.assignment, student)
            return float(submission.score), float(submission.max_score)


def _quiet() -> None:
    """Keep the parent's progress bar readable: nbgrader's log is kept per submission,
    so the worker's own stdout and stderr (and its kernels', which inherit them) go nowhere."""
    import warnings

    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy's autoflush notes
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def serve(conn: Connection, course_dir: str, assignment: str, feedback: bool) -> None:
    """A worker's main loop: grade each student the parent sends, until it sends None."""
    skip_iri_grammar()
    _quiet()
    try:
        grader = Grader(Path(course_dir), assignment, feedback)
    except BaseException as error:  # noqa: BLE001 - the parent reports it and stops
        conn.send(("fatal", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            student = conn.recv()
        except EOFError:
            return
        if student is None:
            return
        conn.send(("started", student))
        try:
            outcome = grader.grade(student)
        except Exception as error:  # noqa: BLE001 - one submission's failure, not the worker's
            outcome = Outcome(student, graded=False, reason=f"{type(error).__name__}: {error}")
        conn.send(("done", asdict(outcome)))


# ---------------------------------------------------------------- in the parent


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers are forked from a server process that has nbgrader imported (helpers/grader/
    preload.py): a fresh interpreter each, without paying for the imports each time. Where
    there is no fork (Windows, macOS's default), they are spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["helpers.grader.preload"])
    return context


def _in_parent_environment(environ: dict[str, str], target: Callable[..., None], *args) -> None:
    """Run ``target(*args)`` with the environment the parent has now (the fork server keeps
    the one it started with; nbgrader_config.py reads e.g. GRADER_CONFINE from it)."""
    os.environ.clear()
    os.environ.update(environ)
    target(*args)


class GradingError(RuntimeError):
    """The batch cannot be graded at all (e.g. nbgrader's configuration does not load)."""


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    student: str | None = None  # the submission it holds
    ready: bool = False
    mark: tuple[float, float] | None = None  # (when, CPU seconds of its processes) a second ago
    usage: float | None = None  # cores its processes used over the last second, if known

    def measure(self, now: float) -> None:
        """Update :attr:`usage` (once a second) from the CPU time of the worker's processes."""
        cpu = process_tree_cpu(self.process.pid)
        if cpu is None or self.mark is None:
            self.mark, self.usage = (now, cpu) if cpu is not None else None, None
        elif now - self.mark[0] >= 1.0:
            self.usage = (cpu - self.mark[1]) / (now - self.mark[0])
            self.mark = (now, cpu)


def process_tree_cpu(pid: int | None) -> float | None:
    """CPU seconds used so far by process ``pid`` and its descendants (ended ones included,
    once reaped), or None if it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except (psutil.Error, ValueError):
        return None
    total = 0.0
    for process in tree:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class _IdleCores:
    """Cores the machine left idle over the last second (psutil's system-wide CPU times),
    counting the time it gave to niced processes, which yield to the workers."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._mark = (time.monotonic(), self._idle())
        self.value = 0.0

    def _idle(self) -> float:
        times = self._psutil.cpu_times()
        return times.idle + getattr(times, "iowait", 0.0) + getattr(times, "nice", 0.0)

    def update(self, now: float) -> bool:
        """Take a new reading once a second; True when it did."""
        if now - self._mark[0] < 1.0:
            return False
        idle = self._idle()
        self.value = (idle - self._mark[1]) / (now - self._mark[0])
        self._mark = (now, idle)
        return True


class Pool:
    """``size`` worker processes grading one assignment of one course directory."""

    def __init__(self, course_dir: Path, assignment: str, size: int, feedback: bool = True,
                 on_event: Callable[[str, int, str], None] | None = None,
                 target: Callable[[Connection, str, str, bool], None] = serve) -> None:
        self.course_dir = Path(course_dir).resolve()
        self.assignment = assignment
        self.size = max(1, size)
        self.max_size = 2 * self.size  # with the workers that stand in for waiting ones
        self.allowed = self.size  # workers computing at once; more while cores stay idle
        self.feedback = feedback
        self.on_event = on_event or (lambda event, pid, student: None)
        self.target = target  # the worker's main loop (tests pass a stand-in for nbgrader)
        self._context = _worker_context()
        self.workers: list[_Worker] = []
        self._died_starting = 0  # workers that died before saying they were ready

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_in_parent_environment,
            args=(dict(os.environ), self.target, child, str(self.course_dir), self.assignment,
                  self.feedback),
            name="grader-worker", daemon=True,
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self.workers.append(worker)
        return worker

    def grade(self, students: list[str], done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Grade every student's submission; return one Outcome each, in ``students`` order."""
        pending = deque(students)
        deaths: dict[str, int] = {}
        outcomes: dict[str, Outcome] = {}

        def finish(outcome: Outcome) -> None:
            if outcome.student in deaths and outcome.graded:
                outcome.attempts += deaths[outcome.student]  # the attempts its dead workers made
            outcomes[outcome.student] = outcome
            if done:
                done(outcome)

        try:
            for _ in range(min(self.size, len(pending))):
                self._spawn()
            idle_cores = _IdleCores()
            while pending or any(w.student for w in self.workers):
                self._dispatch(pending, idle_cores)
                ready = wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers],
                             timeout=TICK)
                for worker in list(self.workers):
                    if worker.conn in ready:
                        try:
                            message = worker.conn.recv()
                        except (EOFError, OSError):
                            message = None
                        if message is not None:
                            self._handle(worker, message, finish)
                            continue
                    if worker.process.sentinel in ready or not worker.process.is_alive():
                        worker.process.join(timeout=5)
                        self.workers.remove(worker)
                        if not worker.ready:
                            self._died_starting += 1
                            if self._died_starting > 2 * self.size:
                                raise GradingError(
                                    f"grading workers keep dying before they start (exit code "
                                    f"{worker.process.exitcode}); try: python -m nbgrader autograde --help")
                        student = worker.student
                        if student is not None:
                            deaths[student] = deaths.get(student, 0) + 1
                            self.on_event("died", worker.process.pid or 0, student)
                            if deaths[student] >= MAX_WORKER_DEATHS:
                                finish(Outcome(student, graded=False, attempts=0, reason=(
                                    f"the worker grading it died {deaths[student]} times (killed, or out "
                                    f"of memory; exit code {worker.process.exitcode})")))
                            else:
                                pending.appendleft(student)  # nothing is lost: grade it again
                        if pending and len(self.workers) < self.size:
                            self._spawn()
        finally:
            self.close()
        return [outcomes[s] for s in students if s in outcomes]

    def _dispatch(self, pending: deque[str], idle_cores: _IdleCores) -> None:
        """Give free workers the next submissions, keeping the cores busy: ``size`` workers
        computing, not counting waiting ones while a core is idle; and one more at a time
        (up to ``max_size``) while a core stays idle anyway (short waits: kernels starting,
        replies), one fewer again when none is."""
        now = time.monotonic()
        reading = idle_cores.update(now)
        busy = [w for w in self.workers if w.student is not None]
        for worker in busy:
            worker.measure(now)
        waiting = [w for w in busy if w.usage is not None and w.usage < WAITING_BELOW]
        idle = idle_cores.value >= IDLE_AT_LEAST
        computing = len(busy) - (len(waiting) if idle else 0)
        if reading and idle and pending and computing >= self.allowed:
            self.allowed = min(self.allowed + 1, self.max_size)
        elif reading and idle_cores.value < SATURATED and self.allowed > self.size:
            self.allowed -= 1
        free = [w for w in self.workers if w.ready and w.student is None]
        starting = [w for w in self.workers if not w.ready]
        while pending and computing < self.allowed:
            if not free:
                if not starting and len(self.workers) < self.max_size:
                    self._spawn()  # ready in a moment; it gets work then
                break
            worker = free.pop(0)
            worker.student, worker.mark, worker.usage = pending.popleft(), None, None
            worker.conn.send(worker.student)
            computing += 1

    def _handle(self, worker: _Worker, message: tuple, finish: Callable[[Outcome], None]) -> None:
        kind, value = message
        if kind == "fatal":
            raise GradingError(f"a grading worker could not start nbgrader: {value}")
        if kind == "ready":
            worker.ready = True
        elif kind == "started":
            self.on_event("started", worker.process.pid or 0, value)
        elif kind == "done":
            worker.student = None
            finish(Outcome(**value))

    def close(self) -> None:
        """Stop every worker (a worker still grading is terminated)."""
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in self.workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.conn.close()
        self.workers = []
