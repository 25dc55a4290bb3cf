"""Grade submissions with nbgrader in a throwaway course built from this repository.

The test suite's grading proofs and the benchmark use this; instructors use the
``nbgrader`` commands themselves (see the README). A :class:`ScratchCourse` copies
``nbgrader_config.py`` and one assignment's ``solutions/`` folder into a temporary
directory, runs ``nbgrader generate_assignment``, accepts submissions as notebooks,
runs ``nbgrader autograde`` on the whole batch, and reads every score back from
the gradebook (never from logs).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from helpers.course.cells import answer_cells, graded_cells, kernel_env, read  # noqa: F401 (re-exported)
from helpers.course.steps import REPO, SOLUTIONS
from helpers.grader.startup import nbgrader_command

COURSE_ID = "backend-roadmap-lab"


@dataclass
class Result:
    """One student's autograded scores for one notebook, read from the gradebook."""

    student: str
    scores: dict[str, float] = field(default_factory=dict)  # grade_id -> score
    max_scores: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())

    def lost(self) -> set[str]:
        """grade_ids of the cells that scored less than their maximum."""
        return {g for g, s in self.scores.items() if s < self.max_scores[g]}


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader (see :func:`helpers.course.cells.kernel_env`)."""
    return kernel_env()


def run_nbgrader(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader <args>`` in ``cwd``; raise with nbgrader's own output if it fails."""
    proc = subprocess.run(
        nbgrader_command(*args),
        cwd=cwd,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


class ScratchCourse:
    """A temporary nbgrader course holding one assignment from ``solutions/``."""

    def __init__(self, root: Path, assignment: str) -> None:
        self.root = Path(root)
        self.assignment = assignment
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "nbgrader_config.py", self.root / "nbgrader_config.py")
        shutil.copytree(SOLUTIONS / assignment, self.root / "solutions" / assignment)
        self.students: list[str] = []
        self.last_summary = None  # the grade command's Summary, after autograde(workers=...)

    def copy(self, root: Path) -> ScratchCourse:
        """A copy of this course (files, gradebook, submissions) in the empty directory ``root``."""
        shutil.copytree(self.root, root, dirs_exist_ok=True)
        twin = object.__new__(ScratchCourse)
        twin.root, twin.assignment = Path(root), self.assignment
        twin.students, twin.last_summary = list(self.students), None
        return twin

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def generate(self) -> Path:
        """Run ``nbgrader generate_assignment`` and return the released notebook's path."""
        run_nbgrader(["generate_assignment", self.assignment, "--force"], self.root)
        return self.released_notebook

    @property
    def released_notebook(self) -> Path:
        return self.root / "exercises" / self.assignment / f"{self.assignment}.ipynb"

    @property
    def source_notebook(self) -> Path:
        return self.root / "solutions" / self.assignment / f"{self.assignment}.ipynb"

    def submit(self, student: str, nb: NotebookNode | Path) -> None:
        """Place ``nb`` as ``student``'s submission."""
        dest = self.root / "submitted" / student / self.assignment / f"{self.assignment}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, Path):
            shutil.copy(nb, dest)
        else:
            nbformat.write(nb, dest)
        self.students.append(student)

    def autograde(self, workers: int | None = None) -> float:
        """Autograde every submission in one batch; return the seconds it took.

        By default with stock ``nbgrader autograde``; with ``workers``, through the
        course's own ``grade`` command (:mod:`helpers.grader.command`) with that many
        worker processes (no feedback or export: the proofs ask for those themselves).
        """
        start = time.perf_counter()
        if workers is None:
            run_nbgrader(["autograde", self.assignment, "--force"], self.root)
        else:
            from helpers.grader.command import grade

            summary = grade(self.assignment, self.root, workers=workers, force=True,
                            feedback=False, export=False)
            self.last_summary = summary
        return time.perf_counter() - start

    def results(self) -> dict[str, Result]:
        """Each submitted student's per-cell scores, from the gradebook."""
        return gradebook_results(self.db_url, self.assignment, self.students)


def gradebook_results(db_url: str, assignment: str, students: list[str]) -> dict[str, Result]:
    """Per-cell scores of ``students``' graded ``assignment`` (named as its notebook), from the
    gradebook at ``db_url``; a student never graded is left out: the caller decides what that means."""
    from nbgrader.api import Gradebook, MissingEntry

    results: dict[str, Result] = {}
    with Gradebook(db_url, COURSE_ID) as gb:
        for student in students:
            try:
                nb = gb.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                continue
            result = Result(student)
            for grade in nb.grades:
                result.scores[grade.name] = float(grade.score)
                result.max_scores[grade.name] = float(grade.max_score)
            results[student] = result
    return results
