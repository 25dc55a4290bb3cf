"""The submissions that prove an assignment grades correctly (DESIGN §4).

For one assignment, :func:`build_batch` makes a batch of submissions, each with the
score it must get, and :func:`check_batch` compares the gradebook with them. The
test suite runs every assignment through these; ``make bench`` times them.

The batch holds:

- the solution (full marks) and the untouched release (zero);
- one submission per entry of the wrong-answer catalogue ``tests/mistakes/<slug>.yaml``;
- tampered copies: test cells edited, test cells deleted, a graded cell duplicated,
  points changed;
- a submission whose first answer loops forever and one whose last answer kills
  the kernel.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nbformat import NotebookNode

from helpers.course.cells import answer_cells, exercise_groups, graded_cells, read
from helpers.course.grading import Result
from helpers.course.steps import REPO

MISTAKES = REPO / "tests" / "mistakes"


@dataclass
class Expected:
    """A submission and what it must score: full marks except the cells in ``lost``."""

    student: str
    notebook: NotebookNode
    lost: set[str] = field(default_factory=set)
    why: str = ""


@dataclass
class Mistake:
    """One entry of a wrong-answer catalogue."""

    id: str
    answer: str
    fails: list[str]
    source: str
    why: str = ""


def load_mistakes(assignment: str) -> list[Mistake]:
    """The wrong-answer catalogue of ``assignment`` (empty if it has none)."""
    path = MISTAKES / f"{assignment}.yaml"
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text()) or []
    mistakes = []
    for entry in entries:
        unknown = set(entry) - {"id", "answer", "fails", "source", "why"}
        if unknown:
            raise ValueError(f"{path}: entry {entry.get('id')!r} has unknown keys {sorted(unknown)}")
        mistakes.append(Mistake(**entry))
    return mistakes


def _is_test(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _with_answer(nb: NotebookNode, grade_id: str, source: str) -> NotebookNode:
    nb = copy.deepcopy(nb)
    answer_cells(nb)[grade_id].source = source
    return nb


def build_batch(source_path: Path, released_path: Path, assignment: str) -> list[Expected]:
    """Every submission of the proof batch for ``assignment``, with its expected losses."""
    solution, released = read(source_path), read(released_path)
    all_tests = set(graded_cells(solution))
    groups = exercise_groups(solution)
    batch = [
        Expected("solution", solution, set(), "the instructor's solution"),
        Expected("untouched-release", released, all_tests, "the release, unanswered"),
    ]
    for mistake in load_mistakes(assignment):
        batch.append(
            Expected(
                f"mistake-{mistake.id}",
                _with_answer(solution, mistake.answer, mistake.source),
                set(mistake.fails),
                mistake.why,
            )
        )

    # Tampering: the grade must follow the answers, whatever was done to the tests.
    first_answer, first_tests = groups[0]
    half = copy.deepcopy(released)  # only the first exercise answered ...
    answer_cells(half)[first_answer].source = answer_cells(solution)[first_answer].source
    for cell in graded_cells(half).values():  # ... and every test made to pass
        cell.source = "pass"
    batch.append(Expected("tampered-tests-edited", half, all_tests - set(first_tests),
                          "tests replaced by `pass`, one exercise answered"))

    deleted = copy.deepcopy(solution)
    deleted.cells = [c for c in deleted.cells if not _is_test(c)]
    batch.append(Expected("tampered-tests-deleted", deleted, set(),
                          "every test cell deleted from a correct notebook"))

    unmarked = copy.deepcopy(released)
    for cell in graded_cells(unmarked).values():
        del cell.metadata["nbgrader"]
        cell.source = "pass"
    batch.append(Expected("tampered-tests-unmarked", unmarked, all_tests,
                          "test cells turned into ordinary cells"))

    duplicated = copy.deepcopy(solution)
    answer = answer_cells(duplicated)[first_answer]
    pasted = copy.deepcopy(answer)
    pasted["id"] = f"{answer['id']}-copy"  # as JupyterLab does on paste: same metadata, new id
    duplicated.cells.insert(duplicated.cells.index(answer) + 1, pasted)
    batch.append(Expected("tampered-duplicated-cell", duplicated, set(),
                          "an answer cell copied and pasted"))

    inflated = copy.deepcopy(released)
    for cell in graded_cells(inflated).values():
        cell.metadata["nbgrader"]["points"] = 1000
    batch.append(Expected("tampered-points", inflated, all_tests, "points raised to 1000"))

    # Runaway code: graded within the cell timeout, zero only for what it breaks.
    batch.append(Expected("runaway-infinite-loop",
                          _with_answer(solution, first_answer, "while True:\n    pass"),
                          set(first_tests), "the first answer never returns"))
    last_answer, last_tests = groups[-1]
    batch.append(Expected("runaway-kernel-crash",
                          _with_answer(solution, last_answer, "import os\nos._exit(1)"),
                          set(last_tests), "the last answer kills the kernel"))
    return batch


def check_batch(batch: list[Expected], results: dict[str, Result],
                max_scores: dict[str, float]) -> list[str]:
    """Where the gradebook disagrees with the batch's expectations (empty when all agree)."""
    problems = []
    for expected in batch:
        result = results.get(expected.student)
        if result is None:
            problems.append(f"{expected.student}: no grade in the gradebook ({expected.why})")
            continue
        if result.max_scores != max_scores:
            problems.append(f"{expected.student}: max scores {result.max_scores} != {max_scores}")
        lost = result.lost()
        scored_zero = {g for g in lost if result.scores[g] == 0}
        if lost != expected.lost or scored_zero != lost:
            problems.append(
                f"{expected.student} ({expected.why}): expected to lose "
                f"{sorted(expected.lost) or 'nothing'}, lost {sorted(lost) or 'nothing'}"
            )
    return problems
