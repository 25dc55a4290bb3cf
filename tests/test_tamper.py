"""Tamper-evidence (issue 13): student code that changes how later test cells run, is
transformed or is reported never earns silent full marks, and legitimate work is never
flagged.

Each adversarial submission is the untouched release of 01-fundamentals with its first
answer replaced by one technique (the other answers stay stubs). Whatever the
technique, it must either score what its answers earn (zero: no answer is right) or
be flagged. One batch is autograded once per test process (a couple of seconds per
submission). ``test_no_false_positive`` grades every step's solution and catalogued
mistakes and asserts that none is flagged; it is the slow one.
"""

from __future__ import annotations

import copy
import html
import re

import pytest

from helpers.course.cells import answer_cells, read
from helpers.course.grading import ScratchCourse, run_nbgrader
from helpers.grader.scrub import MARKER
from helpers.grader.tamper import FLAG_NOTE, read_flags

pytestmark = pytest.mark.grading

ASSIGNMENT = "01-fundamentals"

# technique -> the first answer's source. Each tries to make later tests pass or report less.
TECHNIQUES = {
    "settrace-jumps-over-asserts": """
import sys
def _jump(frame, event, arg):
    if event == "line" and frame.f_code.co_name == "<module>":
        last = max(line for _, _, line in frame.f_code.co_lines() if line)
        try:
            frame.f_lineno = last
        except ValueError:
            pass
    return _jump
def _tracer(frame, event, arg):
    return _jump if frame.f_code.co_name == "<module>" else None
sys.settrace(_tracer)
""",
    "setprofile": "import sys\nsys.setprofile(lambda *a: None)\n",
    "input-transformer-empties-cells": (
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
    ),
    "input-transformer-cleanup": (
        "get_ipython().input_transformers_cleanup.insert(0, lambda lines: ['None\\n'])\n"
    ),
    "ast-transformer-drops-asserts": """
import ast
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAsserts())
""",
    "pre-run-cell-hook": """
import builtins
def _hook(info):
    builtins.sorted = lambda items, **kwargs: list(items)
get_ipython().events.register("pre_run_cell", _hook)
""",
    "post-run-cell-prints-cells": (
        "get_ipython().events.register('post_run_cell', lambda result: print(result.info.raw_cell))\n"
    ),
    "run-cell-patched-on-instance": """
from IPython.core.interactiveshell import ExecutionResult, ExecutionInfo
async def _skip(raw_cell, *args, **kwargs):
    return ExecutionResult(ExecutionInfo(raw_cell, False, False, False, None))
get_ipython().run_cell_async = _skip
""",
    "run-ast-nodes-patched-on-class": """
from IPython.core.interactiveshell import InteractiveShell
async def _nothing(self, *args, **kwargs):
    return False
InteractiveShell.run_ast_nodes = _nothing
""",
    "showtraceback-silenced": (
        "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "ip._showtraceback = lambda *a, **k: None\n"
    ),
    "builtins-replaced": """
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})
builtins.sorted = lambda items, **kwargs: list(items)
builtins.sum = lambda items, start=0: 0
""",
    "global-shadows-builtin": "def sorted(items, **kwargs):\n    return list(items)\n",
    "custom-exception-handler": (
        "get_ipython().set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None: None)\n"
    ),
    "stdout-stderr-swapped": "import io, sys\nsys.stdout = io.StringIO()\nsys.stderr = io.StringIO()\n",
    "displayhook-replaced": "import sys\nsys.displayhook = lambda value: None\n",
    "thread-repatches-builtins": """
import builtins, threading, time
def _keep_patching():
    while True:
        builtins.sorted = lambda items, **kwargs: list(items)
        time.sleep(0.001)
threading.Thread(target=_keep_patching, daemon=True).start()
""",
}


# IPython itself puts sys.displayhook back after every cell: nothing is left to flag.
NEUTRALISED_BY_IPYTHON = {"displayhook-replaced"}

# What a cell timeout can leave behind when its interrupt lands inside IPython's DisplayTrap:
# IPython's own display hook still installed between cells. Not student code: never a flag.
DISPLAY_TRAP_LEFT_ON = """
import sys, threading, time
def _as_an_interrupted_trap_leaves_it():
    for _ in range(300):
        sys.displayhook = get_ipython().displayhook
        time.sleep(0.01)
threading.Thread(target=_as_an_interrupted_trap_leaves_it, daemon=True).start()
"""


# Importing werkzeug.debug installs its console's display hook (werkzeug's server imports it, in
# a server thread, to log a request that raised); left in place between cells, as when that
# thread runs after a cell ended. A library's doing, passing values on: never a flag.
WERKZEUG_CONSOLE_HOOK = """
import sys
sys.modules.pop("werkzeug.debug.console", None)
import werkzeug.debug.console  # its first import sets sys.displayhook = ThreadedStream.displayhook
get_ipython().display_trap.old_hook = sys.displayhook  # still installed once this cell ends
"""


def _with_prefix(solution, prefix):
    nb = copy.deepcopy(solution)
    first = next(iter(answer_cells(nb)))
    cell = answer_cells(nb)[first]
    cell.source = prefix.strip() + "\n" + cell.source
    return nb


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    course = ScratchCourse(tmp_path_factory.mktemp("tamper"), ASSIGNMENT)
    course.generate()
    released = read(course.released_notebook)
    first = next(iter(answer_cells(released)))
    for name, source in TECHNIQUES.items():
        nb = copy.deepcopy(released)
        answer_cells(nb)[first].source = source.strip() + "\n"
        course.submit(f"tamper-{name}", nb)
    course.submit("untouched-release", released)
    solution = read(course.source_notebook)
    course.submit("solution", solution)
    course.submit("solution-display-trap-left-on", _with_prefix(solution, DISPLAY_TRAP_LEFT_ON))
    course.submit("solution-werkzeug-console-hook", _with_prefix(solution, WERKZEUG_CONSOLE_HOOK))
    course.autograde()
    flags = {f.student: f.reasons for f in read_flags(course.root, ASSIGNMENT)}
    return course, course.results(), flags


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_tampering_is_flagged_or_earns_nothing(tampered, technique):
    course, results, flags = tampered
    student = f"tamper-{technique}"
    assert student in results, f"{student} was not graded"
    assert results[student].total == 0 or student in flags, (
        f"{technique}: silent {results[student].total} points"
    )


@pytest.mark.parametrize("technique", sorted(set(TECHNIQUES) - NEUTRALISED_BY_IPYTHON))
def test_tampering_that_changes_the_kernel_is_flagged_with_a_reason(tampered, technique):
    course, results, flags = tampered
    student = f"tamper-{technique}"
    assert flags.get(student), f"{technique} was not flagged"
    graded = (course.root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "Flagged for review" in graded, "the graded notebook shows the flag"


def test_untampered_submissions_are_not_flagged(tampered):
    course, results, flags = tampered
    assert "solution" not in flags and "untouched-release" not in flags
    assert results["solution"].total == results["solution"].max_total
    for library in ("solution-display-trap-left-on", "solution-werkzeug-console-hook"):
        assert library not in flags, (library, flags.get(library))
        assert results[library].total == results[library].max_total, library
    assert results["untouched-release"].total == 0


def test_a_flag_is_in_the_feedback(tampered):
    course, _, _ = tampered
    student = "tamper-builtins-replaced"
    run_nbgrader(["generate_feedback", ASSIGNMENT, "--student", student, "--force"], course.root)
    page = (course.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert FLAG_NOTE.split("**")[1] in html.unescape(re.sub(r"<[^>]+>", "", page))


def hidden_test_lines(course):
    """Lines (12+ characters) of the hidden tests that the released notebook and the
    solution's answers do not also show (as tests/test_grading.py counts a leak)."""
    released = "\n".join(cell.source for cell in read(course.released_notebook).cells)
    released += "\n" + "\n".join(c.source for c in answer_cells(read(course.source_notebook)).values())
    lines, inside = [], False
    for cell in read(course.source_notebook).cells:
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line or "END HIDDEN TESTS" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) >= 12 and line.strip() not in released:
                lines.append(line.strip())
    assert lines, "the assignment has hidden tests"
    return lines


def test_hidden_tests_reach_no_feedback_and_are_forgotten(tmp_path_factory):
    """No hidden-test line reaches feedback, even printed or raised by student code; after
    a hidden test ran, `In`, `_ih`, `_i*` and linecache no longer hold its source; the
    graded notebook (with every hidden test) is not in the kernel's working directory."""
    course = ScratchCourse(tmp_path_factory.mktemp("forget"), ASSIGNMENT)
    course.generate()
    nb = read(course.source_notebook)
    last = list(answer_cells(nb))[-1]
    answer_cells(nb)[last].source += (
        "\nimport glob, linecache\nmarker = 'BEGIN ' + 'HIDDEN TESTS'\n"
        "print('answers seen:', any('BEGIN SOLUTION' in s for s in In))\n"
        "print('in In:', any(marker in s for s in In))\n"
        "print('in _i:', any(marker in str(v) for k, v in globals().items() if k.startswith('_i')))\n"
        "cached = [line for e in linecache.cache.values() if len(e) > 2 for line in e[2]]\n"
        "print('in linecache:', any(marker in line for line in cached))\n"
        # nbgrader wrote the graded notebook, every hidden test in it, to the working directory
        "print('notebooks:', glob.glob('*.ipynb'))\n"
    )
    course.submit("printer", nb)
    # The leak: an answer that prints, and raises with, the test cell calling it.
    leaker = read(course.source_notebook)
    first = next(iter(answer_cells(leaker)))
    answer_cells(leaker)[first].source = (
        "import inspect\n"
        "def count_status_codes(lines):\n"
        "    print(In[-1])\n"
        "    print(inspect.getsource(inspect.stack()[1].frame))\n"
        "    raise ValueError(In[-1])\n"
    )
    course.submit("leaker", leaker)
    course.autograde()

    graded = read(course.root / "autograded" / "printer" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    printed = "".join(
        o.get("text", "") for c in graded.cells for o in c.get("outputs", []) if o.output_type == "stream"
    )
    assert "answers seen: True" in printed, "the answer could read the cells before it"
    for where in ("in In", "in _i", "in linecache"):
        assert f"{where}: False" in printed
    assert "notebooks: []" in printed

    hidden = hidden_test_lines(course)
    leaker_graded = (course.root / "autograded" / "leaker" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "blank lines are skipped" in leaker_graded, "the leaker did print a hidden test"
    for student in ("printer", "leaker"):
        run_nbgrader(["generate_feedback", ASSIGNMENT, "--student", student, "--force"], course.root)
        page = (course.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        leaked = [line for line in hidden if line in text]
        assert leaked == [], f"{student}'s feedback shows hidden test code: {leaked[:3]}"
    assert MARKER in text, "the leaker's printed hidden cell was scrubbed"
