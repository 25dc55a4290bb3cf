"""A learner's self-check: run my-work/ copies of the exercises, print progress.

``make check`` (``python -m helpers.course check [step ...]``) runs each copy in a
fresh kernel the way the grader does: test cells are restored to the released
version first, so an edited test cell cannot pass by accident. It scores the
**visible** tests (the hidden ones only run when an instructor grades) and never
writes to the learner's files. Each question is reported under the heading the
learner sees ("Question 3 — ..."), with the failing test's message; a question whose
answer still raises the stub's NotImplementedError is "not started", and a step whose
answers are all untouched is "not started" and is not run at all. The Validate button
shows the same result (``format_questions``, helpers/course/validate.py).
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.utils import determine_grade
from traitlets.config import Config

from helpers.course.cells import answer_cells, exercise_groups, graded_cells, kernel_env
from helpers.course.steps import STEPS, Step
from helpers.course.workspace import relative

CELL_TIMEOUT = 30
MESSAGE_LINES = 6  # of a failing test's message; the rest is in the notebook
STUB_ERROR = "NotImplementedError"  # what the released answer stub raises
NOT_RUN = "the test did not run (did an earlier cell stop the kernel?)"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
HIDDEN_NOTE = ("Points count the visible tests only; hidden tests (edge cases) run when "
               "your instructor grades.")
VALIDATE_HIDDEN_NOTE = (
    "Hidden tests did not run: they check edge cases and run only when your instructor "
    "grades your work, so full visible points here do not guarantee full marks."
)
MARKS = {"passed": "✓", "failed": "✗", "not attempted": "○"}
WORDS = {"passed": "passed", "failed": "failing", "not attempted": "not started"}


@dataclass
class Question:
    """One exercise as the learner sees it: its heading and how its visible tests went."""

    heading: str
    answer_id: str
    tests: list[str]  # grade_ids of its visible tests
    status: str = "not attempted"  # "passed", "failed", "not attempted"
    earned: float = 0.0
    available: float = 0.0
    messages: list[str] = field(default_factory=list)
    tests_failed: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The self-check of one step."""

    step: Step
    problem: str = ""  # why the copy could not be checked, and what to do
    unusable: bool = False  # the copy exists but is broken (as opposed to missing)
    not_started: bool = False  # every answer is still the released stub
    questions: list[Question] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def earned(self) -> float:
        return sum(q.earned for q in self.questions)

    @property
    def available(self) -> float:
        return sum(q.available for q in self.questions)

    @property
    def exercises(self) -> int:
        return len(self.questions)

    @property
    def passing(self) -> int:
        return sum(q.status == "passed" for q in self.questions)

    @property
    def failing(self) -> list[str]:
        """grade_ids of the failing visible tests."""
        return sorted(t for q in self.questions if q.status == "failed" for t in q.tests_failed)


def has_visible_tests(cell: NotebookNode) -> bool:
    """False for a released test cell whose tests are all hidden (only a docstring left)."""
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return True
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body
    )


def headings(nb: NotebookNode) -> dict[str, str]:
    """answer grade_id -> the "Question N — title" heading above it (points left out)."""
    found, current = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#") and "Question" in line:
                    current = re.sub(r"\s*\(\d+ points?\)\s*$", "", line.lstrip("# ").strip())
        elif cell.metadata.get("nbgrader", {}).get("solution"):
            found[cell.metadata.nbgrader["grade_id"]] = current or cell.metadata.nbgrader["grade_id"]
    return found


def released_questions(released: NotebookNode) -> list[Question]:
    """The step's questions with their visible tests' points, nothing earned yet."""
    tests = graded_cells(released)
    names = headings(released)
    questions = []
    for answer_id, test_ids in exercise_groups(released):
        visible = [t for t in test_ids if has_visible_tests(tests[t])]
        if visible:
            points = sum(float(tests[t].metadata.nbgrader.get("points", 0)) for t in visible)
            questions.append(Question(names.get(answer_id, answer_id), answer_id, visible,
                                      available=points))
    return questions


def json_error_hint(path: Path, error: json.JSONDecodeError) -> str:
    """Where a notebook's JSON breaks and how to find the mistake, without losing work."""
    return (
        f"{relative(path)} is not valid JSON: {error.msg} (line {error.lineno}, "
        f"column {error.colno}). Open it as text (JupyterLab: right-click the file > "
        f"Open With > Editor) and look at that line and just before it for a missing comma, "
        f"quote or bracket. Your answers are still in the file; nothing was changed."
    )


def load_copy(step: Step) -> tuple[NotebookNode | None, str]:
    """The learner's copy of ``step``, or None and a message saying what is wrong."""
    path = step.work_copy
    if not path.exists():
        return None, (
            f"no copy at {relative(path)} yet: `make lab` creates it "
            f"(or `make reset STEP={step.number}`)"
        )
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except UnicodeDecodeError as error:
        return None, f"{relative(path)} is not UTF-8 text ({error}); was it overwritten?"
    except json.JSONDecodeError as error:
        return None, json_error_hint(path, error)
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        return None, (
            f"{relative(path)} is JSON but not a notebook ({error}). Copy your answers out, then "
            f"`make reset STEP={step.number}` (your file is kept in my-work/backups/)."
        )
    problem = missing_cells(nb, nbformat.read(step.exercise, as_version=4), path, step)
    return (None, problem) if problem else (nb, "")


def missing_cells(nb: NotebookNode, released: NotebookNode, path: Path, step: Step) -> str:
    """What to do when graded cells of the release are gone from ``nb`` ('' if none are)."""
    missing = (set(graded_cells(released)) | set(answer_cells(released))) - (
        set(graded_cells(nb)) | set(answer_cells(nb))
    )
    if not missing:
        return ""
    return (
        f"{relative(path)} is missing graded cells {', '.join(sorted(missing))} "
        f"(deleted?). Copy your answers out, then `make reset STEP={step.number}` "
        "(your file is kept in my-work/backups/)."
    )


def untouched(nb: NotebookNode, released: NotebookNode) -> bool:
    """True when every answer cell of ``nb`` is still the released stub."""
    stubs = answer_cells(released)
    return all(cell.source == stubs[g].source for g, cell in answer_cells(nb).items() if g in stubs)


def error_message(cell: NotebookNode) -> str:
    """The error a cell raised, as the learner needs it: type, message, and a line number."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            evalue = ANSI.sub("", output.evalue)
            if output.ename in ("SyntaxError", "IndentationError", "TabError"):
                # IPython says "invalid syntax (2538797860.py, line 1)": keep the line only.
                found = re.search(r"\s*\(\S+, line (\d+)\)$", evalue)
                if found:
                    evalue = f"{evalue[:found.start()]} at line {found.group(1)} of the cell"
            text = f"{output.ename}: {evalue}".strip()
            lines = text.splitlines()
            if len(lines) > MESSAGE_LINES:
                lines = lines[:MESSAGE_LINES] + ["... (the whole message is in the notebook)"]
            return "\n".join(lines)
    return ""


def check_step(step: Step) -> Report:
    """Run the learner's copy of ``step`` and score its visible tests."""
    report = Report(step)
    if not step.built:
        return report
    released = nbformat.read(step.exercise, as_version=4)
    report.questions = released_questions(released)  # counted even when the copy is unreadable
    nb, report.problem = load_copy(step)
    if nb is None:
        report.unusable = step.work_copy.exists()
        return report
    run_questions(report, nb, released, step.work_copy.parent)
    return report


def run_questions(report: Report, nb: NotebookNode, released: NotebookNode, cwd: Path) -> None:
    """Score ``nb`` (a copy of ``released``, changed in place) into ``report``'s questions.

    An untouched copy is "not started" and is not run. Otherwise its test cells are put
    back as released and it runs in a fresh kernel in ``cwd``. ``make check`` and the
    Validate button (helpers/course/validate.py) both come here.
    """
    if untouched(nb, released):
        report.not_started = True
        return
    originals = graded_cells(released)
    for grade_id, cell in graded_cells(nb).items():  # run the tests as released
        if grade_id in originals:
            cell.source = originals[grade_id].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if not execute(nb, cwd):
        report.notes.append("the kernel died or hung; cells after that point did not run")
    score_questions(report.questions, nb, released)


def score_questions(questions: list[Question], nb: NotebookNode, released: NotebookNode) -> None:
    """Fill in each question's status, points and failure messages from the executed ``nb``."""
    tests, answers = graded_cells(nb), answer_cells(nb)
    stubs = answer_cells(released)
    for q in questions:
        answer = answers[q.answer_id]
        if answer.source == stubs[q.answer_id].source:
            q.status = "not attempted"
            continue
        for grade_id in q.tests:
            cell = tests[grade_id]
            score, points = determine_grade(cell)
            if cell.execution_count is None:  # never ran, so it proves nothing
                score = 0.0
            q.earned += score or 0.0
            if (score or 0.0) < points:
                q.tests_failed.append(grade_id)
        raised = error_message(answer)
        failures = [error_message(tests[grade_id]) or NOT_RUN for grade_id in q.tests_failed]
        stub_only = all(m.startswith(STUB_ERROR) for m in [raised, *failures] if m)
        if stub_only and (raised or failures) and q.earned == 0:
            q.status = "not attempted"  # the stub's `raise NotImplementedError()` is still there
            continue
        if raised:
            q.messages.append(f"your answer cell raised {raised}")
        q.messages += failures
        q.status = "failed" if q.tests_failed else "passed"


def execute(nb: NotebookNode, cwd: Path) -> bool:
    """Run ``nb`` in a fresh kernel, errors recorded in the cells; False if it did not finish.

    The kernel talks over local IPC sockets, not TCP: nothing listens on a port, and
    ipykernel has no reason to warn about unencrypted TCP.
    """
    os.environ["NBGRADER_EXECUTION"] = "validate"
    with tempfile.TemporaryDirectory(prefix="check-") as sockets:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(sockets) / "kernel")
        client = NotebookClient(
            nb,
            config=config,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            allow_errors=True,
            interrupt_on_timeout=True,
            resources={"metadata": {"path": str(cwd)}},
        )
        try:
            client.execute(env=kernel_env())
            return True
        except (DeadKernelError, CellTimeoutError):
            return False  # the cells that did not run have no output and score nothing
        finally:
            os.environ.pop("NBGRADER_EXECUTION", None)


def progress_bar(done: int, total: int, width: int = 10) -> str:
    """``■■■□□□□□`` : one square per exercise (scaled down past ``width``)."""
    if total == 0:
        return ""
    filled = round(width * done / total) if total > width else done
    return "■" * filled + "□" * ((width if total > width else total) - filled)


def step_status(r: Report) -> str:
    if not r.step.built:
        return "coming: no exercises yet"
    if r.unusable:
        return "unreadable: see below"
    if r.problem:
        return "no copy yet: see below"
    if r.not_started:
        return "not started"
    return f"{progress_bar(r.passing, r.exercises)} {r.passing}/{r.exercises} passed"


def format_table(reports: list[Report]) -> str:
    """Per step: exercises passed and visible-test points, then what to fix."""
    lines = [f"{'step':<18} {'exercises':<32} {'points':>7}", "-" * 59]
    for r in reports:
        points = f"{r.earned:g}/{r.available:g}" if r.step.built else ""
        lines.append(f"{r.step.slug:<18} {step_status(r):<32} {points:>7}")
    built = [r for r in reports if r.step.built]
    if built:
        earned, available = sum(r.earned for r in built), sum(r.available for r in built)
        lines += ["-" * 59, f"{'total':<18} {'':<32} {f'{earned:g}/{available:g}':>7}"]
    details = []
    for r in reports:
        if r.problem:
            details += ["", f"{r.step.slug}: {r.problem}"]
        shown = [q for q in r.questions if q.status == "failed"]
        if shown or r.notes:
            details += ["", f"{r.step.slug} (my-work/{r.step.slug}/{r.step.work_copy.name}):"]
        for q in shown:
            details.append(f"  ✗ {q.heading}")
            for message in q.messages:
                details += ["      " + line for line in message.splitlines()]
        for note in r.notes:
            details.append(f"  ! {note}")
    lines += details
    lines += ["", HIDDEN_NOTE]
    return "\n".join(lines)


def format_questions(r: Report) -> str:
    """One step's result question by question, as the Validate button shows it."""
    lines = [f"Step {r.step.number} — {r.step.title}",
             f"Visible tests: {r.earned:g}/{r.available:g} points, "
             f"{r.passing} of {r.exercises} questions passed"]
    if r.problem:  # nothing ran, so there is no per-question result to show
        return "\n".join([*lines, "", r.problem, "", VALIDATE_HIDDEN_NOTE])
    if r.not_started:
        lines += ["", "Not started yet: every answer is still the stub that raises "
                  "NotImplementedError. Write an answer, run its cell and the test cell "
                  "below it, then Validate again."]
    lines.append("")
    for q in r.questions:
        lines.append(f"{MARKS[q.status]} {q.heading}: {WORDS[q.status]}")
        for message in q.messages if q.status == "failed" else []:
            lines += ["    " + line for line in message.splitlines()]
    lines += [f"! {note}" for note in r.notes]
    lines += ["", VALIDATE_HIDDEN_NOTE]
    return "\n".join(lines)


def run(names: list[str]) -> int:
    """Check the chosen steps (all when empty) and print the table.

    Returns 0 whenever the check ran, even with failing tests or an unreadable copy: the
    report says what to do, and a make target that fails would add make's own error line.
    """
    from helpers.course import home
    from helpers.course.steps import find_step
    from helpers.course.workspace import ensure_copies

    chosen = {find_step(name).slug for name in names}
    steps = [s for s in STEPS if not chosen or s.slug in chosen]
    for path in ensure_copies():
        print(f"Created your copy: {relative(path)}")
    reports = [check_step(step) for step in steps]
    print(format_table(reports))
    home.save_progress(reports)
    home.write()
    return 0
