"""A learner's self-check: run my-work/ copies of the exercises, print progress.

``make check`` (``python -m helpers.course check [step ...]``) runs each copy in a
fresh kernel the way the grader does: test cells are restored to the released
version first, so an edited test cell cannot pass by accident. It scores the
**visible** tests (the hidden ones only run when an instructor grades) and never
writes to the learner's files.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.utils import determine_grade

from helpers.course.cells import answer_cells, exercise_groups, graded_cells
from helpers.course.steps import STEPS, Step
from helpers.course.workspace import relative

CELL_TIMEOUT = 30


@dataclass
class Report:
    """The self-check of one step."""

    step: Step
    problem: str = ""  # why the copy could not be checked, and what to do
    unusable: bool = False  # the copy exists but is broken (as opposed to not started)
    earned: float = 0.0
    available: float = 0.0
    passing: int = 0
    exercises: int = 0
    failing: list[str] = field(default_factory=list)  # grade_ids of failing visible tests
    notes: list[str] = field(default_factory=list)


def has_visible_tests(cell: NotebookNode) -> bool:
    """False for a released test cell whose tests are all hidden (only a docstring left)."""
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return True
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body
    )


def fresh_copy_hint(step: Step) -> str:
    return (
        f"get a fresh copy with `make reset STEP={step.slug}` "
        f"(or `python -m helpers.course reset {step.slug}`); your file is kept as a backup"
    )


def load_copy(step: Step) -> tuple[NotebookNode | None, str]:
    """The learner's copy of ``step``, or None and a message saying what is wrong."""
    path = step.work_copy
    if not path.exists():
        return None, (
            f"no copy at {relative(path)} yet: `make lab` creates it "
            f"(or `python -m helpers.course reset {step.slug}`)"
        )
    try:
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as error:
        return None, f"{relative(path)} is not a valid notebook ({error}); {fresh_copy_hint(step)}"
    except Exception as error:  # nbformat raises several types for malformed notebooks
        return None, f"{relative(path)} cannot be read ({error}); {fresh_copy_hint(step)}"
    released = nbformat.read(step.exercise, as_version=4)
    missing = (set(graded_cells(released)) | set(answer_cells(released))) - (
        set(graded_cells(nb)) | set(answer_cells(nb))
    )
    if missing:
        return None, (
            f"{relative(path)} is missing graded cells {', '.join(sorted(missing))} "
            f"(deleted?); copy your answers out, then {fresh_copy_hint(step)}"
        )
    return nb, ""


def check_step(step: Step) -> Report:
    """Run the learner's copy of ``step`` and score its visible tests."""
    report = Report(step)
    if not step.built:
        return report
    nb, report.problem = load_copy(step)
    if nb is None:
        report.unusable = step.work_copy.exists()
        return report
    released = nbformat.read(step.exercise, as_version=4)
    originals = graded_cells(released)
    for grade_id, cell in graded_cells(nb).items():  # run the tests as released
        cell.source = originals[grade_id].source
    visible = {g for g, c in originals.items() if has_visible_tests(c)}

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if not execute(nb, step.work_copy.parent):
        report.notes.append("the kernel died or hung; cells after that point did not run")

    results = {}
    for grade_id, cell in graded_cells(nb).items():
        if grade_id in visible:
            score, points = determine_grade(cell)
            if cell.execution_count is None:  # never ran, so it proves nothing
                score = 0.0
            results[grade_id] = (score or 0.0, points)
    report.earned = sum(score for score, _ in results.values())
    report.available = sum(points for _, points in results.values())
    report.failing = sorted(g for g, (s, p) in results.items() if s < p)
    for _, tests in exercise_groups(released):
        shown = [t for t in tests if t in visible]
        if shown:
            report.exercises += 1
            report.passing += all(t not in report.failing for t in shown)
    return report


def execute(nb: NotebookNode, cwd: Path) -> bool:
    """Run ``nb`` in a fresh kernel, errors recorded in the cells; False if it did not finish."""
    os.environ["NBGRADER_EXECUTION"] = "validate"
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
        return True
    except (DeadKernelError, CellTimeoutError):
        return False  # the cells that did not run have no output and score nothing
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)


def format_table(reports: list[Report]) -> str:
    """The progress table across the ten steps."""
    lines = [f"{'step':<18} {'visible tests':>14} {'exercises passing':>18}", "-" * 52]
    for r in reports:
        if not r.step.built:
            lines.append(f"{r.step.slug:<18} {'coming soon':>14}")
        elif r.problem:
            lines.append(f"{r.step.slug:<18} {'not checked':>14}   see below")
        else:
            points = f"{r.earned:g}/{r.available:g}"
            lines.append(f"{r.step.slug:<18} {points:>14} {f'{r.passing}/{r.exercises}':>18}")
    built = [r for r in reports if r.step.built and not r.problem]
    if built:
        earned, available = sum(r.earned for r in built), sum(r.available for r in built)
        lines += ["-" * 52, f"{'total':<18} {f'{earned:g}/{available:g}':>14}"]
    notes = [f"- {r.step.slug}: {r.problem}" for r in reports if r.problem]
    notes += [
        f"- {r.step.slug}: failing {', '.join(r.failing)}"
        for r in reports
        if r.failing and not r.problem
    ]
    notes += [f"- {r.step.slug}: {note}" for r in reports for note in r.notes]
    if notes:
        lines += ["", *notes]
    lines += ["", "Hidden tests run only when your instructor grades; edge cases count there."]
    return "\n".join(lines)


def run(slugs: list[str]) -> int:
    """Check the chosen steps (all when empty), print the table; 1 if a copy is unusable."""
    steps = [s for s in STEPS if not slugs or any(s.slug.startswith(x) for x in slugs)]
    reports = [check_step(step) for step in steps]
    print(format_table(reports))
    return 1 if any(r.unusable for r in reports) else 0
