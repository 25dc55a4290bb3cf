"""Grading proofs (DESIGN §4): every assignment in solutions/ grades correctly.

For each assignment a scratch nbgrader course is built from this repository, a batch
of submissions (see helpers/course/proofs.py) is autograded in one `nbgrader
autograde` run, and each submission's per-cell scores are read from the gradebook.
Adding a step means adding its notebooks and its wrong-answer catalogue; nothing here.
Run one assignment's proofs with `pytest tests/test_grading.py -k 01_fundamentals`.

Catalogued mistakes in different exercises share a submission (each changes one
answer and fails only tests of its own exercise, so the submission must lose exactly
the union of their `fails`); a mismatch names the mistake. A catalogue author who
wants each mistake graded alone, e.g. to see one new entry's own result, runs
`PROOFS_ONE_PER_SUBMISSION=1 pytest tests/test_grading.py -k 01_fundamentals`.

Batches are graded as an instructor grades a class: with the course's own grading
command (helpers/grader, `python -m helpers.course grade`), two worker processes by
default (`PROOFS_WORKERS=N` for N; tests/test_grade_command.py shows that it gives the
grades stock nbgrader gives). `PROOFS_WORKERS=0` grades them with stock `nbgrader autograde`.

Where bubblewrap is installed (CI installs it), every batch is graded confined, as an
instructor grades a class (`GRADER_CONFINE=1`, helpers/grader/sandbox.py); elsewhere
the proofs run unconfined (tests/test_sandbox.py skips, saying why). `PROOFS_CONFINE=0` turns confinement off.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
from contextlib import contextmanager

import pytest

from helpers.course import proofs
from helpers.course.grading import ScratchCourse, answer_cells, graded_cells, read, run_nbgrader
from helpers.course.release import FIX, differences
from helpers.course.steps import assignments
from helpers.grader.tamper import read_flags

pytestmark = pytest.mark.grading


def max_scores(course):
    cells = graded_cells(read(course.source_notebook))
    return {grade_id: float(cell.metadata.nbgrader["points"]) for grade_id, cell in cells.items()}


def expectation(batch, student):
    return next(e for e in batch if e.student == student)


def hidden_test_lines(course):
    """Lines of the hidden tests that appear nowhere in the released notebook."""
    released = "\n".join(cell.source for cell in read(course.released_notebook).cells)
    # A line the solution's answer also contains (e.g. `data = json.loads(text)`) is not secret.
    released += "\n" + "\n".join(cell.source for cell in answer_cells(read(course.source_notebook)).values())
    lines, inside = [], False
    for cell in graded_cells(read(course.source_notebook)).values():
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line or "END HIDDEN TESTS" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) >= 12 and line.strip() not in released:
                lines.append(line.strip())
    return lines


@contextmanager
def confined():
    """Grade with confined kernels where bubblewrap is installed (see the docstring)."""
    wanted = os.environ.get("PROOFS_CONFINE", "1") != "0"
    if shutil.which("bwrap") is None:  # tests/test_sandbox.py is skipped then, saying why
        wanted = False
    before = os.environ.get("GRADER_CONFINE")
    os.environ["GRADER_CONFINE"] = "1" if wanted else "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["GRADER_CONFINE"]
        else:
            os.environ["GRADER_CONFINE"] = before


_batches: dict[str, object] = {}  # assignment -> (course, batch, results), or the error


def autograde_batch(assignment, tmp_path_factory):
    """The assignment's proof batch, autograded once per test process."""
    if assignment not in _batches:
        try:
            course = ScratchCourse(tmp_path_factory.mktemp(assignment), assignment)
            course.generate()
            batch = proofs.build_batch(course.source_notebook, course.released_notebook, assignment)
            for expected in batch:
                course.submit(expected.student, expected.notebook)
            with confined():
                course.autograde(workers=proofs.proof_workers())
            _batches[assignment] = (course, batch, course.results())
        # Every test of the class reports it, without regrading (pytest-timeout's Failed
        # is no Exception: uncached, each of the class's tests would regrade the batch).
        except (Exception, pytest.fail.Exception) as error:
            _batches[assignment] = error
    if isinstance(_batches[assignment], BaseException):
        raise _batches[assignment]
    return _batches[assignment]


class GradingProofs:
    """The proofs for one assignment; a subclass per assignment is made below."""

    # The batch is graded in the first test's set-up: a capstone's (40+ submissions, each
    # serving its app) can take longer than the suite's 600 s per test on a busy machine.
    pytestmark = [pytest.mark.timeout(1800)]
    assignment: str

    @pytest.fixture
    def graded(self, tmp_path_factory):
        return autograde_batch(self.assignment, tmp_path_factory)

    def test_committed_release_is_current(self, graded):
        """exercises/ is what `make release` makes of solutions/ (this batch's fresh release)."""
        course, _, _ = graded
        differing = differences(course.assignment, course.released_notebook.parent)
        assert differing == [], (
            f"exercises/{course.assignment} differs from a fresh release in {differing}: {FIX}"
        )

    def test_solution_scores_full_marks(self, graded):
        course, batch, results = graded
        assert proofs.check_batch([expectation(batch, "solution")], results, max_scores(course)) == []

    def test_untouched_release_scores_zero(self, graded):
        course, batch, results = graded
        assert results["untouched-release"].total == 0
        expected = [expectation(batch, "untouched-release")]
        assert proofs.check_batch(expected, results, max_scores(course)) == []

    def test_each_mistake_loses_exactly_its_points(self, graded):
        course, batch, results = graded
        mistakes = [e for e in batch if e.student.startswith(("mistake-", "mistakes-"))]
        assert mistakes, f"tests/mistakes/{course.assignment}.yaml has no entries"
        graded_ids = sorted(m.id for e in mistakes for m in e.mistakes)
        assert graded_ids == sorted(m.id for m in proofs.graded_mistakes(course.assignment)), (
            "every catalogued mistake (wrong on this database engine) is in exactly one submission"
        )
        assert proofs.check_batch(mistakes, results, max_scores(course)) == []

    def test_honest_submissions_are_not_flagged(self, graded):
        """The tamper guard flags changes to the kernel's machinery, never a solution, an
        untouched release or a plain wrong answer (steps 08 and 09 change logging, OpenTelemetry
        and sys.excepthook legitimately; step 06 prints lines its hidden tests hold)."""
        course, batch, _ = graded
        honest = {e.student for e in batch if not e.student.startswith(("tampered-", "runaway-"))}
        flagged = {(f.student, tuple(f.reasons)) for f in read_flags(course.root, course.assignment)
                   if f.student in honest}
        assert flagged == set()

    def test_every_graded_cell_fails_for_some_mistake(self, graded):
        course, _, _ = graded
        catalogue = proofs.graded_mistakes(course.assignment)
        targeted = {cell for m in catalogue for cell in m.fails}
        graded_ids = set(max_scores(course))
        assert graded_ids - targeted == set(), (
            f"no wrong answer in tests/mistakes/{course.assignment}.yaml fails these test cells"
        )
        assert targeted - graded_ids == set(), "the catalogue names test cells that do not exist"

    def test_tampered_submissions_get_what_their_answers_earn(self, graded):
        course, batch, results = graded
        tampered = [e for e in batch if e.student.startswith("tampered-")]
        assert proofs.check_batch(tampered, results, max_scores(course)) == []

    def test_runaway_submissions_are_graded_without_stopping_the_batch(self, graded):
        course, batch, results = graded
        runaway = [e for e in batch if e.student.startswith("runaway-")]
        assert proofs.check_batch(runaway, results, max_scores(course)) == []
        assert set(results) == {e.student for e in batch}, "every submission of the batch is graded"

    def test_exported_grades_match_the_gradebook(self, graded):
        course, _, results = graded
        run_nbgrader(["export", "--to", "grades.csv"], course.root)
        with open(course.root / "grades.csv", newline="") as f:
            rows = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
        assert rows == {student: result.total for student, result in results.items()}

    def test_feedback_does_not_reveal_hidden_tests(self, graded):
        course, _, results = graded
        hidden = hidden_test_lines(course)
        assert hidden, "the assignment has hidden tests"
        a = course.assignment
        graded_copy = (course.root / "autograded" / "untouched-release" / a / f"{a}.ipynb").read_text()
        assert any(line in graded_copy for line in hidden), "nbgrader ran the hidden tests"
        # One nbgrader run for both: --student is a glob, and "[su][on]*" matches "solution"
        # and "untouched-release" only (the other submissions start mistake-, tampered-, runaway-).
        run_nbgrader(["generate_feedback", a, "--student", "[su][on]*", "--force"], course.root)
        given = sorted(p.name for p in (course.root / "feedback").iterdir())
        assert given == ["solution", "untouched-release"]
        for student in ("solution", "untouched-release"):
            page = course.root / "feedback" / student / a / f"{a}.html"
            text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
            leaked = [line for line in hidden if line in text]
            assert leaked == [], f"{student}'s feedback shows hidden test code: {leaked[:3]}"
            assert "Hidden tests ran here" in text


# One class per assignment (TestGrading_01_fundamentals, ...): pytest-xdist's loadscope
# runs each class on one worker, so assignments are graded in parallel.
for _assignment in assignments():
    _name = "TestGrading_" + _assignment.replace("-", "_")
    globals()[_name] = type(_name, (GradingProofs,), {"assignment": _assignment})
