"""The instructor's workflow, one function per step: update, grade, feedback, with quiet logs.

``python -m helpers.course`` wraps each (see the README's instructor section):

- :func:`update`: an edit of ``solutions/`` reaches grading — the release, the
  gradebook (new hidden tests and points) and a re-grade of what is already graded,
  with a warning that grades will change.
- :func:`grade`: autograde one assignment (today ``nbgrader autograde``; the one
  call to swap for the course's parallel grader).
- :func:`quiet`: nbgrader's log without the lines every run prints (checksums of
  hidden cells, SQLAlchemy's SAWarnings, ipykernel's TCP notice), which hid the
  one warning that mattered; :func:`tampering` says per student which test cells
  were changed, instead of a checksum line per hidden cell.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from helpers.course.cells import graded_cells, read
from helpers.course.grading import COURSE_ID, nbgrader_env, run_nbgrader

#: Lines nbgrader prints on every run that say nothing about a submission.
NOISE = [
    re.compile(r"Attribute 'checksum' for cell \S+ has changed"),  # hidden tests; see tampering()
    re.compile(r"SAWarning: "),
    re.compile(r"^\s+(for notebook in|return \[x for x in|return self\.)"),  # SAWarning's source line
    re.compile(r"Kernel is running over TCP without encryption"),
    re.compile(r"\| INFO\]"),
]


@contextlib.contextmanager
def gradebook(course: Path) -> Iterator:
    """The course's gradebook (nbgrader runs ``alembic`` from PATH when it creates one)."""
    from nbgrader.api import Gradebook

    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = nbgrader_env()["PATH"]
    try:
        with Gradebook(f"sqlite:///{Path(course).resolve() / 'gradebook.db'}", COURSE_ID) as gb:
            yield gb
    finally:
        os.environ["PATH"] = saved


def quiet(log: str) -> list[str]:
    """The lines of an nbgrader log worth reading."""
    return [line for line in log.splitlines() if line.strip() and not any(p.search(line) for p in NOISE)]


def grade(assignment: str, course: Path) -> subprocess.CompletedProcess[str]:
    """Autograde every submission of ``assignment`` in ``course`` (re-grading graded ones).

    The single place the grader is called: swap this for the parallel ``grade`` command.
    """
    return run_nbgrader(["autograde", assignment, "--force"], Path(course), check=False)


def submitted_students(assignment: str, course: Path) -> list[str]:
    """Student ids with a notebook in ``submitted/<id>/<assignment>/``."""
    return sorted(p.parent.parent.name for p in (Path(course) / "submitted").glob(f"*/{assignment}/*.ipynb"))


def final_score(submission) -> float:
    """A submission's score after the late penalty (nbgrader keeps the two apart)."""
    return max(float(submission.score) - float(submission.late_submission_penalty or 0), 0.0)


def graded_students(assignment: str, course: Path) -> dict[str, float]:
    """Student id → score after any late penalty, for every graded submission of ``assignment``."""
    from nbgrader.api import MissingEntry

    with gradebook(course) as gb:
        try:
            return {s.student.id: final_score(s) for s in gb.assignment_submissions(assignment)}
        except MissingEntry:
            return {}


def tampering(assignment: str, course: Path) -> dict[str, list[str]]:
    """Per student, the test cells whose code or points differ from the release, or are missing.

    Grading restores every test cell from the gradebook, so tampering changes no grade;
    it is still worth knowing who tried. A cell that differs may also come from an
    older release (after :func:`update`).
    """
    course = Path(course)
    release = graded_cells(read(course / "exercises" / assignment / f"{assignment}.ipynb"))
    found: dict[str, list[str]] = {}
    for student in submitted_students(assignment, course):
        path = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        try:
            cells = graded_cells(read(path))
        except (ValueError, OSError, AttributeError):  # unreadable: grading reports it
            found[student] = ["notebook unreadable"]
            continue
        changes = []
        for grade_id, cell in release.items():
            mine = cells.get(grade_id)
            if mine is None:
                changes.append(f"{grade_id} deleted")
            elif mine.source != cell.source:
                changes.append(f"{grade_id} edited")
            elif mine.metadata.nbgrader.get("points") != cell.metadata.nbgrader.get("points"):
                changes.append(f"{grade_id} points changed")
        if changes:
            found[student] = changes
    return found


def grade_and_report(assignment: str, course: Path) -> tuple[int, str]:
    """Grade, then say what an instructor needs: counts, ungraded students, tampering, other warnings."""
    course = Path(course)
    proc = grade(assignment, course)
    submitted = submitted_students(assignment, course)
    graded = graded_students(assignment, course)
    done = [s for s in submitted if s in graded]
    lines = [f"{assignment}: graded {len(done)} of {len(submitted)} submissions"]
    for student in submitted:
        if student not in graded:
            lines.append(f"  {student}: not graded: autograde failed (see the log lines below)")
    for student, changes in sorted(tampering(assignment, course).items()):
        lines.append(f"  {student}: test cells changed ({', '.join(changes)}); "
                     "graded with the release's tests")
    rest = quiet(proc.stdout + "\n" + proc.stderr)
    if rest:
        lines += ["nbgrader said:", *(f"  {line}" for line in rest)]
    return proc.returncode, "\n".join(lines)


def update(assignment: str, course: Path) -> str:
    """Bring an edit of ``solutions/<assignment>`` through to grades; return what happened.

    ``nbgrader generate_assignment --force`` in the course rewrites the release and
    records the new test cells and points in the gradebook; then every graded
    submission is graded again, and the report lists whose grade changed.
    """
    course = Path(course)
    before = graded_students(assignment, course)
    run_nbgrader(["generate_assignment", assignment, "--force"], course)
    lines = [f"released exercises/{assignment}/ and recorded its tests and points in the gradebook"]
    if not before:
        return "\n".join(lines)
    lines.append(f"WARNING: {len(before)} graded submissions are graded again; their grades may change.")
    _, report = grade_and_report(assignment, course)
    lines.append(report)
    after = graded_students(assignment, course)
    changed = {s: (before[s], after.get(s)) for s in before if after.get(s) != before[s]}
    for student, (old, new) in sorted(changed.items()):
        lines.append(f"  {student}: {old:g} → {'not graded' if new is None else f'{new:g}'}")
    lines.append(f"{len(changed)} grades changed.")
    return "\n".join(lines)


def feedback(assignment: str, course: Path) -> str:
    """Write ``feedback/<student>/<assignment>/`` (hidden tests' code removed) for every graded student."""
    proc = run_nbgrader(["generate_feedback", assignment, "--force"], Path(course), check=False)
    rest = quiet(proc.stdout + "\n" + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"nbgrader generate_feedback {assignment} failed:\n" + "\n".join(rest))
    return "\n".join(rest)
