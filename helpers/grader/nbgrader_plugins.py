"""nbgrader preprocessors that fix what stock nbgrader 0.9.6 gets wrong for this course.

``nbgrader_config.py`` puts them in place. Two keep a batch of submissions
gradable, fixing cases where stock nbgrader gives a student *no grade at all*:

- :class:`DeduplicateIds`: a learner who copies a graded cell (Ctrl-C, Ctrl-V)
  creates two cells with one ``grade_id``. nbgrader keeps the last and blanks the
  other's metadata to ``{}``, and then ``OverwriteCells.add_missing_cells``
  crashes on the blank (``KeyError: 'grade_id'``). Removing the metadata key
  instead lets the copy run as an ordinary cell.
- :class:`Execute`: a cell that kills its kernel (``os._exit``, a segfault, running
  out of memory) makes nbgrader drop the whole submission. Here the notebook is
  executed again in a fresh kernel with that cell replaced by an error, so every
  other answer still earns its points and the dead cell's tests score zero.

One reads LMS downloads:

- :class:`LmsFileNameCollector`: ``nbgrader zip_collect`` for the file names an
  LMS gives submissions (Canvas: ``doejane_late_1234_5678_01-fundamentals-1.ipynb``).

And one keeps feedback safe to hand out:

- :class:`HideHiddenTests`: nbgrader's feedback HTML shows the hidden tests
  (nbgrader issue #917), so a class could read them. In feedback, hidden test
  code is removed and tracebacks from those cells are cut to the assertion's own
  message ("expected ..., got ..."), which is the feedback worth having.
"""

from __future__ import annotations

import re
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.preprocessors import DeduplicateIds as _DeduplicateIds
from nbgrader.preprocessors import Execute as _Execute
from traitlets import Unicode

KERNEL_DIED = (
    "This cell stopped the Python kernel (for example with os._exit, a crash or "
    "running out of memory), so it was not graded; the cells after it were run in "
    "a fresh kernel."
)


class DeduplicateIds(_DeduplicateIds):
    """nbgrader's DeduplicateIds, but a duplicate loses its nbgrader metadata entirely."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, cell_index: int
    ) -> tuple[NotebookNode, dict]:
        if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
            return cell, resources
        grade_id = cell.metadata.nbgrader["grade_id"]
        if grade_id in self.grade_ids:
            self.log.warning("Cell with id '%s' exists multiple times; grading the last", grade_id)
            del cell.metadata["nbgrader"]
        else:
            self.grade_ids.add(grade_id)
        return cell, resources


class Execute(_Execute):
    """nbgrader's Execute, surviving cells that kill the kernel (at most ``max_kernel_deaths``)."""

    max_kernel_deaths = 5

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None):
        dead: dict[int, str] = {}  # cell index -> the learner's source
        try:
            while True:
                try:
                    return super().preprocess(nb, resources, km)
                except DeadKernelError:
                    index = self._cell_index
                    if len(dead) >= self.max_kernel_deaths or index in dead:
                        raise
                    self.log.warning("Cell %d killed the kernel; running again without it", index)
                    dead[index] = nb.cells[index].source
                    nb.cells[index].source = f"raise RuntimeError({KERNEL_DIED!r})"
        finally:
            for index, source in dead.items():  # show the learner's code, with the reason
                cell = nb.cells[index]
                cell.source = source
                cell.outputs = [
                    NotebookNode(
                        output_type="error",
                        ename="KernelDied",
                        evalue=KERNEL_DIED,
                        traceback=[f"KernelDied: {KERNEL_DIED}"],
                    )
                ]

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int):
        self._cell_index = index
        return super().preprocess_cell(cell, resources, index)


HIDDEN_NOTE = "# Hidden tests ran here; their code is not shown in feedback."


class HideHiddenTests(ClearHiddenTests):
    """For feedback: drop hidden test code, and reduce those cells' tracebacks to the message."""

    enforce_metadata = False  # feedback is built from graded notebooks, metadata already checked

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, cell_index: int
    ) -> tuple[NotebookNode, dict]:
        if cell.cell_type != "code" or not self._remove_hidden_test_region(cell):
            return cell, resources
        cell.source = f"{cell.source.rstrip()}\n{HIDDEN_NOTE}".lstrip("\n")
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class LmsFileNameCollector(FileNameCollectorPlugin):
    """Collects ``<name>[_late]_<user id>_<number>_<notebook>[-N].ipynb`` (Canvas's names).

    The student id is Canvas's **user id**, not the squashed name (two Jane Does are
    both ``doejane``). The ``-N`` an LMS appends to a resubmitted file is dropped, so
    the file matches the assignment's notebook name. ``python -m helpers.course
    collect`` does more (misnamed uploads, late flags, a report); this plugin keeps
    ``nbgrader zip_collect`` consistent with it. Other LMSs: set ``named_regexp`` in
    ``nbgrader_config.py`` with ``student_id`` and ``file_id`` groups.
    """

    named_regexp = Unicode(
        # nbgrader matches the whole path; the name is what follows the last separator.
        r"(?:.*[/\\])?[^_/\\]+(?:_late)?_(?P<student_id>\d+)_\d+_(?P<file_id>[^/\\]+\.ipynb)$",
        help="How a submitted file's name gives the student id and the notebook's name.",
    ).tag(config=True)

    def collect(self, submitted_file: str) -> dict | None:
        info = super().collect(submitted_file)
        if info:
            info["file_id"] = re.sub(r"-\d+(\.ipynb)$", r"\1", info["file_id"])
        return info
