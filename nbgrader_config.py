"""nbgrader configuration for this course (instructors and the test suite use it as is).

Directory names follow the repository layout: instructors author in ``solutions/``,
``nbgrader generate_assignment`` writes the student version to ``exercises/``.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

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

# Two fixes so that one odd submission never goes ungraded (see helpers/course/nbgrader_plugins.py):
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

from helpers.course.nbgrader_plugins import DeduplicateIds, Execute, HideHiddenTests  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]

# Test cells that say "✓" when their visible tests pass and print nothing when all their
# tests are hidden, hints that name the learner's copies (helpers/course/release_plugins.py).
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

from helpers.course.release_plugins import LearnerFeedback  # noqa: E402

c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, InstantiateTests, LockCells, ClearSolutions, ClearOutput,
    LearnerFeedback, CheckCellMetadata, ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme,
    ComputeChecksums, CheckCellMetadata,
]

# Feedback without the hidden tests' code (nbgrader issue #917), safe to hand back.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

# `nbgrader zip_collect` reads the file names an LMS (Canvas) gives submissions.
c.ZipCollectApp.collector_plugin = "helpers.course.nbgrader_plugins.LmsFileNameCollector"
