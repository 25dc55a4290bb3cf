"""Feedback a student can find their way in: each test cell named by its question.

nbgrader's feedback page lists every test cell as "Test cell" in its table of
contents (17 identical links for step 01). :class:`NameTestCells` gives each test
cell a label from the question heading above it and the test's own docstring
(``Question 1.1 — count_status_codes counts the example log.``); the template in
``templates/feedback_named`` shows it. ``nbgrader_config.py`` puts both in place.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import List

from helpers.grader.nbgrader_plugins import HideHiddenTests

#: The folder holding the ``feedback_named`` nbconvert template.
TEMPLATES = Path(__file__).parent / "templates"
_QUESTION = re.compile(r"^#+\s*(?P<title>(?:Question|Exercise|Part)\s+[\w.]+)", re.IGNORECASE | re.MULTILINE)


def _docstring_line(source: str) -> str:
    """The first line of a cell's leading docstring, or ''."""
    match = re.match(r'\s*(?:"""|\'\'\')(?P<line>[^\n]*?)(?:"""|\'\'\'|$)', source, re.MULTILINE)
    return match["line"].strip() if match else ""


def _display_data_priority() -> List:
    """The ``display_data_priority`` trait nbconvert configures for every preprocessor.

    nbgrader's base preprocessor redeclares it without ``config=True``, so each
    subclass logs "Config option `display_data_priority` not recognized" on every
    ``generate_feedback``; nbgrader's own GetGrades re-tags it the same way.
    """
    return List(list(GetGrades.class_traits()["display_data_priority"].default())).tag(config=True)


class FeedbackHideHiddenTests(HideHiddenTests):
    """:class:`helpers.grader.nbgrader_plugins.HideHiddenTests`, without the config warning."""

    display_data_priority = _display_data_priority()


class NameTestCells(NbGraderPreprocessor):
    """Label each test cell ``<question> — <docstring>`` in its metadata (``toc_label``)."""

    display_data_priority = _display_data_priority()

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        question = ""
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                match = _QUESTION.search(cell.source)
                if match:
                    question = match["title"]
                continue
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                parts = [p for p in (question, _docstring_line(cell.source)) if p]
                cell.metadata["toc_label"] = " — ".join(parts) or meta.get("grade_id", "Test cell")
        return nb, resources
