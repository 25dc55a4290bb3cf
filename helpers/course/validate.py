"""nbgrader's Validate button, answered question by question (a Jupyter server extension).

nbgrader's JupyterLab extension saves the notebook, posts its path to
``/assignments/validate`` and shows the answer in a "Validation Results" dialog.
nbgrader's own handler answers with its ``Validator``: one traceback per failing
cell, a ``NotImplementedError`` for every untouched question, no question names,
no score, and "passes all the tests" although the hidden tests never ran.

This extension answers the same URL for the course's exercises with what
``make check`` computes (helpers/course/selfcheck.py): each question under the
heading the learner sees, passed / failing with the test's message / not started,
the visible-test points, and a line saying the hidden tests run only at grading.
Any other notebook still goes to nbgrader's own handler.

``make lab`` enables it (helpers/course/lab.py writes the server config). Jupyter
Server loads extensions in alphabetical order and Tornado routes a URL to the
first handler added for it, so this module (``helpers…``) answers before nbgrader.
"""

from __future__ import annotations

import html
import traceback
from pathlib import Path

import nbformat
from jupyter_server.utils import url_path_join
from nbformat import NotebookNode
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError
from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
from nbgrader.validator import Validator
from tornado import web

from helpers.course import selfcheck
from helpers.course.cells import answer_cells, graded_cells
from helpers.course.steps import SOLUTIONS, STEPS, Step
from helpers.course.workspace import relative

NO_EXERCISES = (
    "This notebook has no graded exercises, so there is nothing to validate. Validate "
    "checks your exercise copies, such as my-work/01-fundamentals/01-fundamentals.ipynb "
    "(HOME.md links each step's)."
)
# nbgrader's dialog puts each "failed" entry under a fixed "The following cell failed:"
# line and an empty code block, then renders its "error" as HTML: hide those two, since
# the summary is not one cell's failure. The selectors only match inside that dialog.
DIALOG_STYLE = (
    "<style>#validation-message > div:not(:has(.course-validate)) { display: none; }"
    " #validation-message pre:has(.course-validate) { white-space: pre-wrap; }</style>"
)


def step_of(nb: NotebookNode, path: Path) -> Step | None:
    """The built step whose released exercise ``nb`` is a copy of, or None.

    The file name decides when it names a step (``01-fundamentals.ipynb``,
    ``01-fundamentals-Copy1.ipynb``); otherwise the step sharing the most graded cell ids.
    """
    ids = set(graded_cells(nb)) | set(answer_cells(nb))
    if not ids:
        return None
    built = [s for s in STEPS if s.built]
    named = [s for s in built if path.name.startswith(s.slug)]
    if named:
        return named[0]
    overlap = {}
    for s in built:
        released = nbformat.read(s.exercise, as_version=4)
        overlap[s.slug] = len(ids & (set(graded_cells(released)) | set(answer_cells(released))))
    best = max(built, key=lambda s: overlap[s.slug], default=None)
    return best if best is not None and overlap[best.slug] else None


def check(path: Path) -> selfcheck.Report | None:
    """The per-question report of the notebook at ``path``, or None if it is no exercise copy."""
    nb = nbformat.read(path, as_version=4)
    step = step_of(nb, path)
    if step is None or path.is_relative_to(SOLUTIONS.resolve()):
        return None  # not an exercise copy; an instructor's source keeps nbgrader's checks
    released = nbformat.read(step.exercise, as_version=4)
    report = selfcheck.Report(step, questions=selfcheck.released_questions(released))
    report.problem = selfcheck.missing_cells(nb, released, path, step)
    if not report.problem:
        selfcheck.run_questions(report, nb, released, path.parent)
    return report


def summary_html(text: str) -> str:
    """The summary as the dialog's HTML: escaped text, question lines in bold."""
    lines = []
    for line in html.escape(text).splitlines():
        lines.append(f"<b>{line}</b>" if line[:1] in selfcheck.MARKS.values() else line)
    return DIALOG_STYLE + '<span class="course-validate">' + "\n".join(lines) + "</span>"


class CourseValidator(Validator):
    """nbgrader's Validator, answering for the course's exercise copies with one summary.

    ``validate`` returns nbgrader's result shape: a single "failed" entry whose error is
    the summary (an empty result would make the dialog say "passes all the tests"),
    or nbgrader's own result for notebooks that are not the course's exercises.
    """

    def validate(self, filename: str) -> dict:
        path = Path(filename).resolve()
        nb = nbformat.read(path, as_version=4)
        if not (graded_cells(nb) or answer_cells(nb)):
            return {"failed": [{"source": "", "error": summary_html(NO_EXERCISES),
                                "raw_error": NO_EXERCISES}]}
        report = check(path)
        if report is None:
            return super().validate(filename)
        self.log.info("Validated %s: %g/%g visible points", relative(path), report.earned,
                      report.available)
        text = selfcheck.format_questions(report)
        return {"failed": [{"source": "", "error": summary_html(text), "raw_error": text}]}


class CourseValidateHandler(ValidateAssignmentHandler):
    """nbgrader's ``/assignments/validate`` handler with the course's Validator."""

    def validate_notebook(self, path: str) -> dict:
        root = Path(self.root_dir).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise web.HTTPError(403, "Access denied: path outside allowed directory")
        try:
            result = CourseValidator(config=self.load_config()).validate(str(target))
        except (SchemaTooOldError, SchemaTooNewError):
            return super().validate_notebook(path)  # nbgrader's own advice for these
        except Exception:
            self.log.error(traceback.format_exc())
            return {"success": False, "value": traceback.format_exc()}
        return {"success": True, "value": result}


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "helpers.course.validate"}]


def _load_jupyter_server_extension(serverapp) -> None:
    webapp = serverapp.web_app
    webapp.settings.setdefault("root_dir", serverapp.root_dir)
    pattern = url_path_join(webapp.settings["base_url"], "/assignments/validate")
    webapp.add_handlers(".*$", [(pattern, CourseValidateHandler)])
