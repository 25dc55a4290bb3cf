"""Release-time touches that make the exercises read well for a learner (nbgrader plugin).

``LearnerFeedback`` runs in ``nbgrader generate_assignment`` (see nbgrader_config.py)
before nbgrader records the test cells in its gradebook, so the released notebook and
the grader's copy of each test cell stay the same apart from the hidden tests:

- a test cell with visible tests ends by printing ``✓ <its docstring>``, so a passing
  test says so instead of printing nothing;
- a test cell whose tests are all hidden starts with a comment instead of a docstring,
  so running it shows no ``Out[…]`` and says when those tests run;
- every test cell's second line says it is locked and why, since JupyterLab silently
  ignores edits and delete keys in a locked cell (a comment: no output, no effect on grading);
- the statement's hints point at the learner's copies and the environment's Python.
"""

from __future__ import annotations

import ast
import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
LOCK_NOTE = (
    "# 🔒 Locked test cell: it cannot be edited or deleted, because it is part of how your work is graded."
)
WALKTHROUGH_LINK = re.compile(r"\[`notebooks/(\d\d-[a-z-]+)\.ipynb`\]\(\.\./\.\./notebooks/\1\.ipynb\)")


def docstring(source: str) -> tuple[str, ast.Expr] | None:
    """The test cell's leading docstring (its first line) and its statement, or None."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].value.value.strip().splitlines()[0], body[0]
    return None


def learner_test_source(source: str) -> str:
    """A test cell's source as released: a ✓ line for visible tests, no Out[] for hidden ones,
    and the lock notice right after the first line (the docstring stays first for feedback)."""
    found = docstring(source)
    if found is None:
        return source
    text, statement = found
    try:
        visible_body = ast.parse(HIDDEN.sub("", source)).body[1:]
    except SyntaxError:
        return source
    lines = source.rstrip("\n").splitlines()
    head, rest = lines[:statement.end_lineno], lines[statement.end_lineno:]
    if not visible_body:  # only hidden tests: the docstring would be the cell's Out[…]
        return "\n".join([f"# Hidden tests (they run when your work is graded): {text}", LOCK_NOTE, *rest])
    return "\n".join([*head, LOCK_NOTE, *rest, f"print({'✓ ' + text!r})"])


def learner_markdown(source: str) -> str:
    """Hints that name the learner's copy of the walkthrough and the venv's Python."""
    source = WALKTHROUGH_LINK.sub(
        lambda m: f"[`my-work/{m.group(1)}-walkthrough.ipynb`](../{m.group(1)}-walkthrough.ipynb)",
        source,
    )
    return source.replace("`python -m helpers.course", "`.venv/bin/python -m helpers.course")


class LearnerFeedback(NbGraderPreprocessor):
    """See the module docstring; place it before nbgrader's ComputeChecksums and SaveCells."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.source = learner_test_source(cell.source)
        elif cell.cell_type == "markdown":
            cell.source = learner_markdown(cell.source)
        return cell, resources
