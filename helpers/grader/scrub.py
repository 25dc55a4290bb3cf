"""Keep hidden-test text out of everything grading hands back to a student.

Student code runs in the same kernel as the hidden tests, so it can print them:
``print(chr(10).join(In))`` in the last answer, or ``raise ValueError(In[-1])`` from
a function the next hidden test calls. :class:`ScrubHiddenTestText` runs in
``nbgrader generate_feedback`` before :class:`~helpers.grader.nbgrader_plugins.HideHiddenTests`
(which removes the hidden tests' code itself): it replaces every output line of every
cell that contains a line of a hidden test with :data:`MARKER`.

Printed text is scrubbed, never flagged: a correct answer may legitimately print a
string that a hidden test also contains (step 06 prints Dockerfile lines).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

MARKER = "[hidden test text removed]"

# nbgrader's own test for the delimiters (ClearHiddenTests): the words anywhere in a line.
BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"

# Shorter hidden lines (`assert x`, `else:`) are too common to be secret, and
# blanking every output line that contains them would hide legitimate output.
MIN_LENGTH = 12

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# Escapes a repr() or a JSON dump puts in place of the characters of source code.
_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\'": "'", '\\"': '"', "\\\\": "\\"}
_ESCAPE = re.compile(r"\\[nt'\"\\]")


def normalise(text: str) -> str:
    """``text`` as compared: no colours, no HTML, whitespace runs as one space."""
    text = _TAG.sub("", _ANSI.sub("", text))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def hidden_lines(nb: NotebookNode, min_length: int = MIN_LENGTH) -> set[str]:
    """The normalised lines of ``nb``'s hidden tests that appear nowhere else in ``nb``.

    A hidden line that the notebook also shows (in markdown, an answer, a visible
    test) is no secret, and scrubbing it would only blank legitimate output.
    """
    hidden: set[str] = set()
    visible: list[str] = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if cell.cell_type == "code" and BEGIN in line:
                inside = True
            elif cell.cell_type == "code" and END in line:
                inside = False
            elif inside:
                hidden.add(normalise(line))
            else:
                visible.append(normalise(line))
    shown = "\n".join(visible)
    return {line for line in hidden if len(line) >= min_length and line not in shown}


def _readings(line: str) -> Iterable[str]:
    """The ways ``line`` may carry source text: as is, and with repr/JSON escapes undone."""
    yield normalise(line)
    if "\\" in line:
        for part in _ESCAPE.sub(lambda m: _ESCAPES[m.group()], line).splitlines():
            yield normalise(part)


def scrub_text(text: str, hidden: set[str]) -> tuple[str, int]:
    """``text`` with each line that contains a hidden line replaced; and how many were."""
    if not hidden or not text:
        return text, 0
    lines = text.splitlines(keepends=True)
    removed = 0
    for i, line in enumerate(lines):
        if any(h in reading for reading in _readings(line) for h in hidden):
            ending = line[len(line.rstrip("\r\n")):]
            lines[i] = MARKER + ending
            removed += 1
    return "".join(lines), removed


def _scrub_value(value, hidden: set[str]) -> tuple[object, int]:
    """Scrub a string, a list of strings (nbformat's multiline form) or a JSON value."""
    if isinstance(value, str):
        return scrub_text(value, hidden)
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            text, n = scrub_text("".join(value), hidden)
            return text, n
        pairs = [_scrub_value(v, hidden) for v in value]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    if isinstance(value, dict):
        total = 0
        out = type(value)()
        for key, item in value.items():
            out[key], n = _scrub_value(item, hidden)
            total += n
        return out, total
    return value, 0


# Binary outputs are base64: no source text can be read from them by a matcher.
_BINARY = ("image/png", "image/jpeg", "image/gif", "application/pdf")


def scrub_output(output: NotebookNode, hidden: set[str]) -> int:
    """Scrub one cell output in place; return how many lines were replaced."""
    removed = 0
    if output.output_type == "stream":
        output.text, removed = _scrub_value(output.text, hidden)
    elif output.output_type == "error":
        output.ename, n1 = scrub_text(str(output.ename), hidden)
        output.evalue, n2 = scrub_text(str(output.evalue), hidden)
        traceback, n3 = _scrub_value(list(output.traceback), hidden)
        # A multi-line traceback entry was joined above; keep one entry per line.
        output.traceback = traceback.splitlines() if isinstance(traceback, str) else traceback
        removed = n1 + n2 + n3
    elif output.output_type in ("display_data", "execute_result", "update_display_data"):
        for mime in list(output.get("data", {})):
            if mime in _BINARY:
                continue
            output.data[mime], n = _scrub_value(output.data[mime], hidden)
            removed += n
    return removed


def scrub_notebook(nb: NotebookNode, hidden: set[str] | None = None) -> int:
    """Scrub every output of every code cell of ``nb`` in place; return lines replaced.

    ``hidden`` defaults to :func:`hidden_lines` of ``nb`` itself (a graded notebook
    still holds its hidden tests).
    """
    if hidden is None:
        hidden = hidden_lines(nb)
    removed = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            removed += scrub_output(output, hidden)
    return removed


class ScrubHiddenTestText(NbGraderPreprocessor):
    """For feedback: replace output lines that contain hidden-test text with :data:`MARKER`.

    Put it before ``HideHiddenTests``, which removes the hidden code this reads.
    """

    min_length = Integer(
        MIN_LENGTH, help="Hidden-test lines shorter than this (normalised) are not scrubbed."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        removed = scrub_notebook(nb, hidden_lines(nb, self.min_length))
        if removed:
            self.log.warning("Removed %d output line(s) showing hidden test text", removed)
        return nb, resources
