"""exercises/ is exactly what `make release` makes from solutions/, and is clean."""

from __future__ import annotations

import shutil

import pytest

from helpers.course.grading import answer_cells, graded_cells, read
from helpers.course.proofs import exercise_groups
from helpers.course.release import FIX
from helpers.course.steps import EXERCISES, SOLUTIONS, assignments

ASSIGNMENTS = assignments()


def test_there_are_assignments():
    assert ASSIGNMENTS, "solutions/ holds no assignment"


# That the committed exercises/ is a current release is checked by the grading proofs
# (tests/test_grading.py), which generate a fresh release anyway; here only `stale` itself.
def test_stale_names_the_files_that_differ(tmp_path, monkeypatch):
    from helpers.course import release

    assignment = ASSIGNMENTS[0]
    fresh = tmp_path / "fresh"
    shutil.copytree(EXERCISES / assignment, fresh)
    assert release.differences(assignment, fresh) == []
    notebook = fresh / f"{assignment}.ipynb"
    notebook.write_text(notebook.read_text().replace("Question", "Questoin", 1))
    (fresh / "extra.txt").write_text("new")
    assert release.differences(assignment, fresh) == sorted(["extra.txt", f"{assignment}.ipynb"])
    monkeypatch.setattr(release, "generate", lambda a, workdir: fresh)
    assert release.stale(assignment) == sorted(["extra.txt", f"{assignment}.ipynb"])


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
