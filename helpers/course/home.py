"""The course home, ``HOME.md``: the steps, the learner's progress, what to open next.

``make lab`` writes it (git ignores it: it is the learner's own) and opens JupyterLab
on it; ``make check`` rewrites it with the scores it measured. Without a check the
home still knows which exercises were never touched, so a new learner sees where to
start. It reads files only, never runs a kernel, so it costs nothing at start-up.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import nbformat

from helpers.course import steps
from helpers.course.cells import answer_cells
from helpers.course.steps import STEPS, Step


def home_path() -> Path:
    """``HOME.md`` at the repository root, beside ``my-work/`` (git ignores both)."""
    return steps.WORK.parent / "HOME.md"


def progress_path() -> Path:
    """``my-work/progress.json``: what the last ``make check`` measured, per step."""
    return steps.WORK / "progress.json"


def save_progress(reports) -> None:
    """Record ``make check``'s reports (selfcheck.Report) for the home page."""
    saved = load_progress()
    for r in reports:
        if r.step.built and not r.problem and r.step.work_copy.exists():
            saved[r.step.slug] = {
                "passed": r.passing, "exercises": r.exercises,
                "earned": r.earned, "available": r.available,
                "not_started": r.not_started,
                "checked": datetime.now().isoformat(timespec="seconds"),
                "mtime": r.step.work_copy.stat().st_mtime,
            }
    progress_path().parent.mkdir(parents=True, exist_ok=True)
    progress_path().write_text(json.dumps(saved, indent=1) + "\n")


def load_progress() -> dict:
    try:
        return json.loads(progress_path().read_text())
    except (OSError, ValueError):
        return {}


def started(step: Step) -> bool | None:
    """Whether any answer in the learner's copy differs from the released stub (None: unreadable)."""
    try:
        mine = answer_cells(nbformat.read(step.work_copy, as_version=4))
    except Exception:  # a broken copy: `make check` says where
        return None
    stubs = answer_cells(nbformat.read(step.exercise, as_version=4))
    return any(cell.source != stubs.get(g, cell).source for g, cell in mine.items())


def step_progress(step: Step, saved: dict) -> tuple[str, bool]:
    """(what the home says about ``step``'s exercises, whether the step is finished)."""
    if not step.built:
        return "coming", False
    if not step.work_copy.exists():
        return "not started", False
    record = saved.get(step.slug)
    if record and abs(record["mtime"] - step.work_copy.stat().st_mtime) < 1e-6:
        if record["not_started"]:
            return "not started", False
        bar = "■" * record["passed"] + "□" * (record["exercises"] - record["passed"])
        done = record["passed"] == record["exercises"]
        return f"{bar} {record['passed']}/{record['exercises']} ({record['earned']:g}/" \
               f"{record['available']:g} points)", done
    state = started(step)
    if state is None:
        return "unreadable: run `make check` to see where", False
    return ("in progress: `make check` scores it" if state else "not started"), False


def render() -> str:
    """The text of ``HOME.md``."""
    saved = load_progress()
    rows, next_step = [], None
    for step in STEPS:
        progress, done = step_progress(step, saved)
        walk = f"my-work/{step.slug}-walkthrough.ipynb"
        walkthrough = f"[read]({walk})" if step.walkthrough.exists() else "coming"
        copy = step.work_copy.relative_to(steps.WORK.parent).as_posix()
        exercises = f"[do]({copy})" if step.built else "coming"
        rows.append(f"| {step.number} | {step.title} | {walkthrough} | {exercises} | {progress} |")
        if next_step is None and step.built and not done:
            next_step = step
    if next_step:
        walk = f"my-work/{next_step.slug}-walkthrough.ipynb"
        ex = next_step.work_copy.relative_to(steps.WORK.parent).as_posix()
        nxt = (f"**Next:** step {next_step.number}, {next_step.title}. Read the "
               f"[walkthrough]({walk}), then do the [exercises]({ex}).")
    else:
        nxt = "**Every step with exercises passes its visible tests.** Well done."
    return "\n".join([
        "# Backend Roadmap Lab",
        "",
        nxt,
        "",
        "## The steps",
        "",
        "| # | Step | Walkthrough | Exercises | Your progress |",
        "|---|------|-------------|-----------|---------------|",
        *rows,
        "",
        "## How it works",
        "",
        "- Everything you run and write lives in `my-work/` (your copies; `git pull` never "
        "touches them).",
        "- A walkthrough is read top to bottom: run each cell (Shift-Enter) and change "
        "things freely. `make reset-walkthrough STEP=01` brings back the original.",
        "- In the exercises, write your code where it says `# YOUR CODE HERE` and run the "
        "test cell under it. Test cells are locked: you cannot edit or delete them.",
        "- `make check` (in a terminal: File > New > Terminal) runs all your exercises and "
        "updates the progress above; `make reset STEP=01` gives a fresh copy of step 01's "
        "exercises (close its tab first; your old file is kept in `my-work/backups/`).",
        "",
        f"*Written by `make lab` / `make check` at {datetime.now():%Y-%m-%d %H:%M}.*",
        "",
    ])


def write() -> Path:
    """Write ``HOME.md``; returns its path."""
    path = home_path()
    text = render()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
