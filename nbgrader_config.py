"""nbgrader configuration for this course (instructors and the test suite use it as is).

Directory names follow the repository layout: instructors author in ``solutions/``,
``nbgrader generate_assignment`` writes the student version to ``exercises/``.
"""

import os
from pathlib import Path

import nbgrader

from helpers.grader.startup import cache_metadata_schema

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

# Check nbgrader's cell-metadata schema once per process, not once per cell (same results).
cache_metadata_schema()

c.CourseDirectory.course_id = "backend-roadmap-lab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Exercises run in seconds; a cell that takes longer than this is a runaway loop.
# interrupt_on_timeout (on by default) lets the rest of the notebook still be graded.
c.Execute.timeout = 20
c.Execute.interrupt_on_timeout = True

# Learners delete and copy cells: restore deleted graded cells from the gradebook,
# and overwrite test cells and points with the instructor's version (on by default).
c.OverwriteCells.add_missing_cells = True

# What a learner sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Keep one runaway print loop from producing a multi-megabyte submission.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50

# Two fixes so that one odd submission never goes ungraded (see helpers/grader/nbgrader_plugins.py):
# a copied graded cell, and a cell that kills the kernel. Otherwise nbgrader 0.9.6's own lists.
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from helpers.grader.feedback import TEMPLATES, FeedbackHideHiddenTests, NameTestCells  # noqa: E402
from helpers.grader.nbgrader_plugins import DeduplicateIds  # noqa: E402
from helpers.grader.scrub import ScrubHiddenTestText  # noqa: E402
from helpers.grader.tamper import GuardedExecute  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]

# Feedback without the hidden tests' code (nbgrader issue #917), safe to hand back,
# and no output line that shows hidden-test text (student code can print it).
# (FeedbackHideHiddenTests is HideHiddenTests without a config warning.)
# NameTestCells labels each test cell by its question for the page's table of contents.
c.GenerateFeedback.preprocessors = [
    GetGrades, NameTestCells, ScrubHiddenTestText, FeedbackHideHiddenTests, CSSHTMLHeaderPreprocessor,
]
c.HTMLExporter.template_name = "feedback_named"
c.HTMLExporter.extra_template_basedirs = [
    str(TEMPLATES), str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"),
]

# Confinement (helpers/grader/sandbox.py): each kernel in a bubblewrap sandbox, no course
# files, no network but its own loopback, memory/CPU/process limits. GRADER_CONFINE=1
# turns it on; grading then refuses to start where bubblewrap is missing.
c.GuardedExecute.confine = os.environ.get("GRADER_CONFINE") == "1"

# nbgrader's exchange (release_assignment, fetch, submit, collect, release_feedback) in a folder
# of this course unless LAB_EXCHANGE_ROOT names a shared one (a JupyterHub class: README).
# The default, /usr/local/share/nbgrader/exchange, does not exist on a single machine, and the
# formgrader then logs a CRITICAL line on every page.
_exchange = os.environ.get("LAB_EXCHANGE_ROOT")
if not _exchange:
    _exchange = str(Path(__file__).resolve().parent / "exchange")
    os.makedirs(_exchange, exist_ok=True)  # nbgrader checks it exists; a shared one is the hub's to make
c.Exchange.root = _exchange
# The formgrader's debug panel dumps the config as JSON, which fails on the classes above.
c.FormgradeExtension.debug = False

# Test cells that say "✓" when their visible tests pass and print nothing when all their
# tests are hidden, hints that name the learner's copies (helpers/grader/release_plugins.py).
# nbgrader 0.9.6's list, with LearnerFeedback before the gradebook records the cells.
from nbgrader.preprocessors import (  # noqa: E402
    ClearHiddenTests,
    ClearMarkScheme,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    SaveCells,
)

from helpers.grader.release_plugins import LearnerFeedback  # noqa: E402

c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, InstantiateTests, LockCells, ClearSolutions, ClearOutput,
    LearnerFeedback, CheckCellMetadata, ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme,
    ComputeChecksums, CheckCellMetadata,
]

# `nbgrader zip_collect` reads the file names an LMS (Canvas) gives submissions.
c.ZipCollectApp.collector_plugin = "helpers.grader.nbgrader_plugins.LmsFileNameCollector"
