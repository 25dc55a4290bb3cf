"""Build notebooks from Python: a contributor's tool for writing walkthroughs and exercises.

Notebooks can be edited in JupyterLab (with nbgrader's "Create Assignment" toolbar
for graded cells); for a new step it is often quicker to write a short script::

    from helpers.course.authoring import md, code, answer, tests, save
    save("solutions/02-web/02-web.ipynb", [
        md("# Step 02 ..."),
        answer("ex1-code", "def f():\\n    ### BEGIN SOLUTION\\n    ...\\n    ### END SOLUTION"),
        tests("ex1-tests", 2, '\"\"\"f() returns ...\"\"\"\\nassert f() == 1'),
    ])

The cells carry the same nbgrader metadata the toolbar would write.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = ["answer", "code", "md", "new_notebook", "save", "tests", "written_answer"]

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _clean(source: str) -> str:
    return textwrap.dedent(source).strip("\n")


def md(source: str) -> NotebookNode:
    """A Markdown cell."""
    return nbformat.v4.new_markdown_cell(_clean(source))


def code(source: str) -> NotebookNode:
    """An ordinary code cell."""
    return nbformat.v4.new_code_cell(_clean(source))


def _nbgrader(cell: NotebookNode, **meta: object) -> NotebookNode:
    base = {"schema_version": 3, "locked": False, "solution": False, "grade": False}
    base.update(meta)
    cell.metadata["nbgrader"] = base
    return cell


def answer(grade_id: str, source: str) -> NotebookNode:
    """An autograded answer cell: the learner's code between ``### BEGIN/END SOLUTION``."""
    return _nbgrader(code(source), grade_id=grade_id, solution=True)


def written_answer(grade_id: str, source: str, points: int) -> NotebookNode:
    """A manually graded Markdown answer (nbgrader "Manually graded answer")."""
    return _nbgrader(md(source), grade_id=grade_id, solution=True, grade=True, points=points)


def tests(grade_id: str, points: int, source: str) -> NotebookNode:
    """A locked autograder test cell worth ``points``; may hold ``### BEGIN HIDDEN TESTS``."""
    return _nbgrader(code(source), grade_id=grade_id, grade=True, locked=True, points=points)


def new_notebook(cells: Iterable[NotebookNode]) -> NotebookNode:
    """A notebook with the project's kernelspec around ``cells``."""
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def save(path: str | Path, cells: Iterable[NotebookNode]) -> Path:
    """Write ``cells`` as a notebook at ``path`` (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells)
    for index, cell in enumerate(nb.cells):  # stable ids: regenerating gives a small diff
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = grade_id or f"cell-{index:03d}"
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path
