"""exercises/ is exactly what `make release` makes from solutions/, and is clean."""

from __future__ import annotations

import pytest

from helpers.course.grading import answer_cells, graded_cells, read
from helpers.course.proofs import exercise_groups
from helpers.course.release import FIX, stale
from helpers.course.steps import EXERCISES, SOLUTIONS, assignments

ASSIGNMENTS = assignments()


def test_there_are_assignments():
    assert ASSIGNMENTS, "solutions/ holds no assignment"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_current(assignment):
    differing = stale(assignment)
    assert differing == [], f"exercises/{assignment} differs from a fresh release in {differing}: {FIX}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_carries_no_outputs_or_solutions(assignment):
    path = EXERCISES / assignment / f"{assignment}.ipynb"
    text = path.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text, f"{path} contains {marker!r}: {FIX}"
    nb = read(path)
    with_outputs = [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert with_outputs == [], f"{path} carries outputs in cells {with_outputs}: {FIX}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_is_well_formed(assignment):
    nb = read(SOLUTIONS / assignment / f"{assignment}.ipynb")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), f"duplicated grade_ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    groups = exercise_groups(nb)
    assert len(groups) >= 5, f"DESIGN §4 asks for at least five exercises, found {len(groups)}"
    assert all(tests for _, tests in groups), "every answer cell is followed by its test cells"
    for grade_id, cell in graded_cells(nb).items():
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        assert first.startswith('"""'), f"test cell {grade_id} starts with a one-line docstring"
        assert cell.outputs == [], f"test cell {grade_id} is committed with outputs"
    for grade_id, cell in answer_cells(nb).items():
        assert "### BEGIN SOLUTION" in cell.source, f"answer cell {grade_id} has no solution markers"
    assert any("BEGIN HIDDEN TESTS" in c.source for c in graded_cells(nb).values())
