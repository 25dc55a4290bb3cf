"""Benchmarks with the targets of the foundation issue (2-core machine).

``make bench`` (``python -m helpers.course bench``) measures:

- each walkthrough: seconds for a whole ``jupyter execute`` of it, kernel start-up
  included, as a learner's Run All feels it (target 10 s);
- each assignment: autograde seconds per submission (target 3 s), over the solution,
  the untouched release and the wrong-answer catalogue;
- step 03's dataset: seconds to build it on SQLite (target 5 s);
- the whole test suite (target 10 min), unless ``--no-suite``.

Nothing is written into the repository: notebooks run from a temporary copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.course import proofs
from helpers.course.cells import kernel_env
from helpers.course.grading import ScratchCourse
from helpers.course.steps import REPO, assignments, walkthroughs

TARGETS = {"walkthrough": 10.0, "autograde": 3.0, "dataset": 5.0, "suite": 600.0}


def bench_walkthrough(path: Path) -> float:
    """Seconds for a whole ``jupyter execute`` process over a temporary copy of ``path``.

    The copy sits one level below the repository, as ``notebooks/`` and a learner's
    ``my-work/`` do, so relative paths resolve the same.
    """
    with tempfile.TemporaryDirectory(dir=REPO, prefix=".bench-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "execute", "--inplace", str(copy)],
                       check=True, capture_output=True, cwd=tmp, env=kernel_env())
        return time.perf_counter() - start


def bench_autograde(assignment: str) -> tuple[float, int]:
    """(seconds per submission, submissions) for an ordinary batch of ``assignment``."""
    with tempfile.TemporaryDirectory() as tmp:
        course = ScratchCourse(Path(tmp), assignment)
        course.generate()
        batch = [
            e for e in proofs.build_batch(course.source_notebook, course.released_notebook, assignment)
            if not e.student.startswith(("runaway-", "tampered-"))
        ]
        for expected in batch:
            course.submit(expected.student, expected.notebook)
        seconds = course.autograde()
    return seconds / len(batch), len(batch)


def bench_dataset() -> tuple[float, int]:
    """(seconds, rows in the biggest table) to build step 03's dataset on SQLite."""
    from helpers import databases, dataset

    eng = databases.engine("bench-dataset", url="")  # "" means SQLite, whatever DATABASE_URL says
    try:
        start = time.perf_counter()
        counts = dataset.build(eng)
        return time.perf_counter() - start, max(counts.values())
    finally:
        databases.drop(eng)


def bench_suite() -> float:
    """Seconds for the whole test suite (``python -m pytest``)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                   cwd=REPO, check=False, capture_output=True)
    return time.perf_counter() - start


def verdict(seconds: float, target: float) -> str:
    return "ok" if seconds <= target else f"OVER the {target:g} s target"


def run(suite: bool = True) -> int:
    """Run the benchmarks and print one line per figure."""
    print("walkthrough execution (fresh kernel)")
    for path in walkthroughs():
        s = bench_walkthrough(path)
        print(f"  {path.stem:<20} {s:6.1f} s   {verdict(s, TARGETS['walkthrough'])}")
    print("autograde, seconds per submission")
    for assignment in assignments():
        per, n = bench_autograde(assignment)
        print(f"  {assignment:<20} {per:6.2f} s   ({n} submissions)   {verdict(per, TARGETS['autograde'])}")
    seconds, rows = bench_dataset()
    print(f"step 03 dataset build  {seconds:6.1f} s   ({rows:,} rows in the biggest table)   "
          f"{verdict(seconds, TARGETS['dataset'])}")
    if suite:
        s = bench_suite()
        print(f"whole test suite       {s:6.0f} s   {verdict(s, TARGETS['suite'])}")
    return 0
