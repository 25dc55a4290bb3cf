"""``python -m helpers.course grade <step>`` (``make grade STEP=...``): grade a class.

Run in an nbgrader course directory (the repository root by default), it grades
what is already in ``submitted/`` (what ``nbgrader collect`` or ``zip_collect``
put there; it collects nothing) with a pool of workers (:mod:`helpers.grader.workers`),
and writes what nbgrader's own commands write, so formgrader, ``nbgrader export``
and ``nbgrader release_feedback`` keep working:

- the gradebook (``gradebook.db``, or the configured ``db_url``),
- ``autograded/<student>/<assignment>/`` (``nbgrader autograde``),
- ``feedback/<student>/<assignment>/`` (``nbgrader generate_feedback``),
- ``grades.csv`` (``nbgrader export``).

A submission whose autograded notebooks and feedback are already there, from the
same submission (same ``timestamp.txt``), is skipped, so a run that was stopped
or crashed is finished by running it again; ``--force`` regrades every one.

With ``--broker URL`` (or ``GRADER_BROKER_URL``) the submissions go to Celery workers
on other machines instead of the local pool (:mod:`helpers.grader.distributed`; the
gradebook must then be a database they all reach, e.g. PostgreSQL). Without it,
Celery is not imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from helpers.grader.progress import Progress
from helpers.grader.startup import nbgrader_command
from helpers.grader.workers import GradingError, Outcome, Pool


class CommandError(SystemExit):
    """A problem with what the instructor asked for; the message says what to do."""


@dataclass
class Summary:
    """The result of one ``grade`` run."""

    assignment: str
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already graded, left as they were
    seconds: float = 0.0
    workers: int = 0

    @property
    def graded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.graded]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.graded]

    @property
    def flagged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.flags]

    def report(self) -> str:
        """The summary an instructor reads at the end of a run."""
        lines = [
            f"{self.assignment}: {len(self.graded)} graded, {len(self.failed)} failed, "
            f"{len(self.flagged)} flagged, {len(self.skipped)} already graded "
            f"in {self.seconds:.1f} s with {self.workers} worker(s)"
        ]
        if self.failed:
            lines.append("failed (no grade; fix the cause and run the command again):")
            lines += [f"  {o.student}: {o.reason}" for o in self.failed]
        if self.flagged:
            lines.append("flagged for review (graded; check these by hand):")
            lines += [f"  {o.student}: {'; '.join(o.flags)}" for o in self.flagged]
        return "\n".join(lines)


def _course_config(course_dir: Path):
    """nbgrader's configuration as ``nbgrader`` run in ``course_dir`` loads it."""
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.coursedir import CourseDirectory

    here = os.getcwd()
    os.chdir(course_dir)
    try:
        app = NbGrader()
        app.load_config_file()
        app.config.CourseDirectory.root = str(course_dir)
        return CourseDirectory(config=app.config)
    finally:
        os.chdir(here)


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    """Students with a submission of ``assignment`` in ``submitted/``, sorted."""
    root = course_dir / "submitted"
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{assignment}") if any(p.glob("*.ipynb")))


def already_graded(course_dir: Path, assignment: str, student: str, feedback: bool = True) -> bool:
    """True if this very submission was autograded (and got feedback) by an earlier run."""
    submitted = course_dir / "submitted" / student / assignment
    outputs = [course_dir / "autograded" / student / assignment]
    if feedback:
        outputs.append(course_dir / "feedback" / student / assignment)
    for notebook in submitted.glob("*.ipynb"):
        if not (outputs[0] / notebook.name).exists():
            return False
        if feedback and not (outputs[1] / f"{notebook.stem}.html").exists():
            return False
    stamp = submitted / "timestamp.txt"
    graded_stamp = outputs[0] / "timestamp.txt"
    if stamp.exists() and (not graded_stamp.exists() or graded_stamp.read_text() != stamp.read_text()):
        return False  # resubmitted since it was graded
    return True


def _check_gradebook(coursedir, assignment: str) -> None:
    """Create the gradebook if needed (once, here, not in every worker); require the assignment."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise CommandError(
                f"The gradebook ({coursedir.db_url}) has no assignment {assignment!r}. Create it "
                f"first in the course directory: nbgrader generate_assignment {assignment}"
            ) from None


def export_grades(course_dir: Path) -> Path:
    """Write ``grades.csv`` with ``nbgrader export``, as an instructor would."""
    proc = subprocess.run(nbgrader_command("export"), cwd=course_dir,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GradingError(f"nbgrader export failed:\n{proc.stdout}\n{proc.stderr}")
    return course_dir / "grades.csv"


def grade(assignment: str, course_dir: Path, workers: int | None = None, force: bool = False,
          feedback: bool = True, export: bool = True, stream: TextIO | None = None,
          on_event=None, broker: str | None = None, queue: str | None = None,
          timeout: float | None = None) -> Summary:
    """Grade every submission of ``assignment`` in ``course_dir``; see the module docstring.

    With ``broker``, Celery workers on ``queue`` grade them (``workers`` is then unused
    and ``summary.workers`` counts the workers that took a submission); ``timeout``
    bounds the wait for them.
    """
    from helpers.course.cells import kernel_env

    course_dir = Path(course_dir).resolve()
    if not (course_dir / "nbgrader_config.py").exists():
        raise CommandError(
            f"{course_dir} is not an nbgrader course directory (it has no nbgrader_config.py). "
            "Run the command there, or pass --course-dir PATH."
        )
    os.environ["PATH"] = kernel_env()["PATH"]  # alembic and kernels from this environment
    students = submitted_students(course_dir, assignment)
    if not students:
        raise CommandError(
            f"Nothing to grade: no notebooks in {course_dir}/submitted/*/{assignment}/. "
            f"Collect them first (nbgrader collect {assignment}, or nbgrader zip_collect "
            f"{assignment} for an LMS download)."
        )
    coursedir = _course_config(course_dir)
    _check_gradebook(coursedir, assignment)
    todo = students if force else [
        s for s in students if not already_graded(course_dir, assignment, s, feedback)]
    summary = Summary(assignment, skipped=[s for s in students if s not in todo])
    size = min(workers or os.cpu_count() or 1, max(len(todo), 1))
    summary.workers = size if todo else 0
    start = time.monotonic()
    if todo and broker:
        from helpers.grader.distributed import grade_remotely

        seen: set[int] = set()

        def heard(event: str, pid: int, student: str) -> None:
            seen.add(pid)
            if on_event:
                on_event(event, pid, student)

        progress = Progress(len(todo), stream)
        try:
            summary.outcomes = grade_remotely(
                course_dir, coursedir, assignment, todo, broker, queue=queue, feedback=feedback,
                on_event=heard, done=lambda o: progress.advance(failed=not o.graded), timeout=timeout)
        finally:
            progress.close()
        summary.workers = len(seen)
    elif todo:
        progress = Progress(len(todo), stream)
        pool = Pool(course_dir, assignment, size, feedback=feedback, on_event=on_event)
        try:
            summary.outcomes = pool.grade(todo, lambda o: progress.advance(failed=not o.graded))
        finally:
            progress.close()
    if export:
        export_grades(course_dir)
    summary.seconds = time.monotonic() - start
    return summary


def resolve_step(text: str) -> str:
    """The assignment slug for ``1``, ``01``, ``fundamentals`` or ``01-fundamentals``."""
    from helpers.course.steps import find_step

    return find_step(text.strip().strip("/")).slug


def run(step: str, course_dir: str | None = None, workers: int | None = None, force: bool = False,
        feedback: bool = True, broker: str | None = None, queue: str | None = None) -> int:
    """The command line: grade, print the summary, exit 1 if a submission got no grade."""
    from helpers.course.steps import REPO

    assignment = resolve_step(step)
    if workers is not None and workers < 1:
        raise CommandError("--workers must be 1 or more")
    try:
        summary = grade(assignment, Path(course_dir) if course_dir else REPO, workers, force, feedback,
                        broker=broker or os.environ.get("GRADER_BROKER_URL") or None, queue=queue)
    except GradingError as error:
        print(error, file=sys.stderr)
        return 2
    print(summary.report())
    if summary.outcomes or summary.skipped:
        print(f"grades: {Path(course_dir or REPO).resolve() / 'grades.csv'}")
    return 1 if summary.failed else 0
