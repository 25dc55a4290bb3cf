"""Read a notebook's nbgrader cells: answers, tests and how they pair up.

Both sides of the course use this small module: the learner commands
(``make check``, ``make lab``) and the grading system. It depends on nbformat
only, so a learner's command never imports nbgrader's grading machinery.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode


def read(path: Path) -> NotebookNode:
    """Read a notebook (nbformat 4)."""
    return nbformat.read(path, as_version=4)


def graded_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The autograded test cells of ``nb`` by grade_id."""
    return {
        cell.metadata.nbgrader["grade_id"]: cell
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
        and not cell.metadata["nbgrader"].get("solution")
    }


def answer_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The autograded answer (solution) cells of ``nb`` by grade_id."""
    return {
        cell.metadata.nbgrader["grade_id"]: cell
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def exercise_groups(nb: NotebookNode) -> list[tuple[str, list[str]]]:
    """(answer grade_id, the test grade_ids after it up to the next answer), in order."""
    groups: list[tuple[str, list[str]]] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            groups.append((meta["grade_id"], []))
        elif meta.get("grade") and groups:
            groups[-1][1].append(meta["grade_id"])
    return groups


def kernel_env() -> dict[str, str]:
    """The environment for tools that start kernels: this interpreter's ``bin`` first on PATH.

    nbgrader runs the ``alembic`` executable when it creates a gradebook, and every
    kernel must be this environment's Python.
    """
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.pop("JUPYTER_PLATFORM_DIRS", None)
    return env
