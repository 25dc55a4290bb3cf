"""Walkthroughs are committed as clean top-to-bottom runs and follow the anatomy.

Their outputs themselves are compared by nbval (pytest collects notebooks/ with
--nbval; see pyproject.toml).
"""

from __future__ import annotations

import re

import pytest

from helpers.course import navigation
from helpers.course.grading import read
from helpers.course.steps import NOTEBOOKS, REPO, STEPS, walkthroughs

WALKTHROUGHS = walkthroughs()
FIX = "run `make execute STEP=<slug>` (or `python -m helpers.course execute <slug>`) and commit"


def ids(paths):
    return [p.stem for p in paths]


def test_only_known_walkthroughs():
    known = {s.slug for s in STEPS}
    strays = [p.name for p in NOTEBOOKS.glob("*.ipynb") if p.stem not in known]
    assert strays == [], f"notebooks/ holds notebooks that are no step: {strays}"
    assert list(REPO.rglob("Untitled*.ipynb")) == [], "a stray Untitled notebook is in the repository"


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=ids(WALKTHROUGHS))
def test_execution_counts_run_one_to_n(path):
    nb = read(path)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name} is not a clean run: {FIX}"


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=ids(WALKTHROUGHS))
def test_no_error_outputs(path):
    nb = read(path)
    errors = [c.execution_count for c in nb.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert errors == [], f"{path.name} has errors in cells {errors}"


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=ids(WALKTHROUGHS))
def test_output_checks_are_rarely_skipped(path):
    code = [c for c in read(path).cells if c.cell_type == "code"]
    skipped = [c for c in code if re.search(r"#\s*NBVAL_(IGNORE_OUTPUT|SKIP)", c.source)]
    assert len(skipped) * 10 < len(code), f"{len(skipped)}/{len(code)} cells skip nbval's check"


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=ids(WALKTHROUGHS))
def test_anatomy(path):
    nb = read(path)
    opening = nb.cells[0].source
    assert opening.startswith(f"# Step {path.stem[:2]}"), "opens with the step's title"
    assert "learn how to" in opening.lower(), "opens with what you will learn"
    assert "Prerequisites" in opening and "Time" in opening, "says prerequisites and time"
    closing = nb.cells[-1].source
    assert "## Recap" in closing, "ends with a recap"
    step = next(s for s in STEPS if s.slug == path.stem)
    if step.built:
        assert f"my-work/{path.stem}/{path.stem}.ipynb" in closing, "links to the step's exercises"
    else:  # a walkthrough may come before its exercises (a capstone's reference app, say)
        assert "coming" in closing, "says the step's exercises are coming"


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=ids(WALKTHROUGHS))
def test_navigation_is_current(path):
    nb = read(path)
    assert not navigation.apply(nb, path.stem), f"{path.name}'s navigation links are stale: {FIX}"
