"""Benchmarks with the targets of the foundation issue (2-core machine).

``make bench`` (``python -m helpers.course bench``) measures:

- each walkthrough: seconds for a whole ``jupyter execute`` of it, kernel start-up
  included, as a learner's Run All feels it (target 10 s); the median of a few runs
  (the machine is shared, so one run is noise), beside the same figure for a trivial
  one-cell notebook (what start-up alone costs, and how much of it is importing the
  client itself), each walkthrough's cost above it, its slowest cells (from the cell
  times ``jupyter execute`` records, so at no extra cost), and the load average;
- each assignment: autograde seconds per submission (target 3 s), over the solution,
  the untouched release and the wrong-answer catalogue;
- step 03's dataset: seconds to build it on SQLite (target 5 s);
- the grading command against stock nbgrader, on one batch of at least 40
  submissions (01's solution, release and 42 catalogued mistakes, each alone: 44): stock
  serial ``nbgrader autograde`` seconds, ``grade`` seconds and the ratio (target
  2.5x on 2 cores), and whether a worker killed mid-batch lost a submission;
- the whole test suite (target 10 min), unless ``--no-suite``.

Nothing is written into the repository: notebooks run from a temporary copy.
``--walkthroughs [STEP ...]`` times only walkthroughs (and the baseline).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from helpers.course import proofs
from helpers.course.cells import kernel_env
from helpers.course.grading import ScratchCourse, run_nbgrader
from helpers.course.steps import REPO, assignments, walkthroughs

TARGETS = {"walkthrough": 10.0, "autograde": 3.0, "dataset": 5.0, "suite": 600.0, "speedup": 2.5}
REPEAT = 3  # runs per walkthrough; the median is reported


def bench_walkthrough(path: Path, cells: list[dict[int, float]] | None = None) -> float:
    """Seconds for a whole ``jupyter execute`` process over a temporary copy of ``path``.

    The copy sits one level below the repository, as ``notebooks/`` and a learner's
    ``my-work/`` do, so relative paths resolve the same. When ``cells`` is a list, the
    run's seconds per code cell (:func:`cell_seconds`) are appended to it.
    """
    with tempfile.TemporaryDirectory(dir=REPO, prefix=".bench-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "execute", "--inplace", str(copy)],
                       check=True, capture_output=True, cwd=tmp, env=kernel_env())
        seconds = time.perf_counter() - start
        if cells is not None:
            cells.append(cell_seconds(nbformat.read(copy, as_version=4)))
        return seconds


def cell_seconds(nb: nbformat.NotebookNode) -> dict[int, float]:
    """Seconds each code cell ran, by its index in ``nb.cells``, from the times nbclient records.

    ``jupyter execute`` stores them in each cell's ``metadata.execution`` (from the
    kernel receiving the code to its reply); cells without them are left out.
    """

    def moment(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    seconds = {}
    for index, cell in enumerate(nb.cells):
        execution = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in execution and "shell.execute_reply" in execution:
            seconds[index] = (moment(execution["shell.execute_reply"])
                              - moment(execution["iopub.execute_input"])).total_seconds()
    return seconds


def slowest_cells(path: Path, runs: list[dict[int, float]], top: int = 3) -> str:
    """The ``top`` code cells of ``path`` with the highest median seconds over ``runs``, and their sum."""
    if not runs:
        return ""
    nb = nbformat.read(path, as_version=4)
    medians = {i: statistics.median(run.get(i, 0.0) for run in runs) for i in runs[0]}
    worst = sorted(medians, key=medians.get, reverse=True)[:top]

    def first_line(i: int) -> str:
        line = next((s for s in nb.cells[i].source.splitlines() if s.strip()), "")
        return line if len(line) <= 40 else line[:39] + "…"

    listed = ", ".join(f"{medians[i]:.1f} s {first_line(i)!r}" for i in worst)
    return f"{'':<23}all cells {sum(medians.values()):.1f} s; slowest: {listed}"


def bench_baseline() -> float:
    """Seconds for a whole ``jupyter execute`` of a one-cell notebook: the start-up floor."""
    with tempfile.TemporaryDirectory(dir=REPO, prefix=".bench-") as tmp:
        trivial = Path(tmp) / "00-trivial.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
        nbformat.write(nb, trivial)
        return bench_walkthrough(trivial)


def bench_client_import() -> float:
    """Seconds for a fresh Python to import ``nbclient`` and ``nbformat``: part of the baseline.

    ``jupyter execute`` pays it before any kernel starts (nbformat imports jsonschema, whose
    format checkers import rfc3987_syntax, which builds its grammars at import time); a
    learner's Run All in a running JupyterLab does not.
    """
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import nbclient, nbformat"], check=True, env=kernel_env())
    return time.perf_counter() - start


def median_of(measure, repeat: int = REPEAT) -> tuple[float, list[float]]:
    """(median, all runs) of ``repeat`` calls of ``measure``, run one after another."""
    runs = [measure() for _ in range(repeat)]
    return statistics.median(runs), runs


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, or "unknown" where the OS has none."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def walkthrough_line(name: str, runs: list[float], base: float,
                     target: float = TARGETS["walkthrough"]) -> str:
    """One walkthrough's line: median whole-process seconds, the runs, the cells' share, the verdict."""
    s = statistics.median(runs)
    # The cells' own cost (median minus the start-up floor) is what a notebook's edits change.
    return (f"  {name:<20} {s:6.1f} s   (runs {', '.join(f'{r:.1f}' for r in runs)}; "
            f"cells {s - base:.1f} s) {verdict(s, target)}")


def report_walkthroughs(paths: list[Path], repeat: int = REPEAT) -> list[float]:
    """Print each walkthrough's median whole-process time against the target, and the baseline.

    Returns the medians, in the order of ``paths``.
    """
    target = TARGETS["walkthrough"]
    print(f"walkthrough execution: whole `jupyter execute` process, kernel start-up included, "
          f"median of {repeat}, target {target:g} s (load average {load_average()}; {os.cpu_count()} cores)")
    base, runs = median_of(bench_baseline, repeat)
    print(f"  {'trivial notebook':<20} {base:6.1f} s   (runs {', '.join(f'{r:.1f}' for r in runs)}) "
          "start-up alone")
    client, _ = median_of(bench_client_import, repeat)
    print(f"  {'  of which nbclient':<20} {client:6.1f} s   "
          "(jupyter execute pays it; Run All in a running JupyterLab does not)")
    medians = []
    for path in paths:
        cells: list[dict[int, float]] = []
        _, runs = median_of(lambda p=path, c=cells: bench_walkthrough(p, c), repeat)
        medians.append(statistics.median(runs))
        print(walkthrough_line(path.stem, runs, base, target))
        if cells:  # where the time goes: what to look at first when a walkthrough is over
            print(slowest_cells(path, cells))
    within = sum(m <= target for m in medians)
    print(f"  {within} of {len(medians)} walkthroughs within {target:g} s; "
          f"load average after: {load_average()}")
    return medians


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


def class_batch(course: ScratchCourse, assignment: str = "01-fundamentals", size: int = 42) -> int:
    """Submit solution, release and the first ``size`` catalogued mistakes (one each) to ``course``."""
    batch = proofs.build_batch(course.source_notebook, course.released_notebook, assignment)
    solution = next(e for e in batch if e.student == "solution").notebook
    release = next(e for e in batch if e.student == "untouched-release").notebook
    class_ = [("solution", solution), ("untouched-release", release)] + [
        (e.student, e.notebook) for e in proofs.mistake_submissions(solution, assignment, one_each=True)
    ][:size]
    for student, notebook in class_:
        course.submit(student, notebook)
    return len(class_)


def bench_grade_command(assignment: str = "01-fundamentals", workers: list[int] | None = None) -> dict:
    """Stock serial ``nbgrader autograde`` vs the ``grade`` command on the same batch.

    Returns the seconds of each run, the number of submissions, whether every run
    gave the same grades, and the kill-a-worker result: a worker is killed while it
    grades, then the batch must still be graded in full, and a second run must find
    nothing left to grade.
    """
    import os
    import signal

    from helpers.grader.command import grade

    cores = os.cpu_count() or 1
    workers = workers or [cores]
    figures: dict = {"workers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        course = ScratchCourse(Path(tmp) / "serial", assignment)
        course.generate()
        figures["submissions"] = class_batch(course, assignment)
        pristine = course.copy(Path(tmp) / "pristine")
        start = time.perf_counter()
        stock = run_nbgrader(["autograde", assignment, "--force"], course.root, check=False)
        figures["serial"] = time.perf_counter() - start
        serial = {s: r.scores for s, r in course.results().items()}
        # Stock nbgrader fails a submission whose kernel lost its port to another process.
        figures["serial_failed"] = figures["submissions"] - len(serial) if stock.returncode else 0
        differing: set[str] = set()  # students graded differently by some run
        for n in workers:
            twin = pristine.copy(Path(tmp) / f"workers-{n}")
            figures["workers"][n] = twin.autograde(workers=n)
            scores = {s: r.scores for s, r in twin.results().items()}
            differing |= {s for s in set(scores) | set(serial) if scores.get(s) != serial.get(s)}

        killed: list[str] = []

        def kill_one(event: str, pid: int, student: str) -> None:
            if event == "started" and len(killed) == 0 and student.startswith("mistake-"):
                killed.append(student)
                os.kill(pid, signal.SIGKILL)

        crash = pristine.copy(Path(tmp) / "crash")
        summary = grade(assignment, crash.root, workers=cores, feedback=False, export=False,
                        on_event=kill_one)
        rerun = grade(assignment, crash.root, workers=cores, feedback=False, export=False)
        results = {s: r.scores for s, r in crash.results().items()}
        differing |= {s for s in set(results) | set(serial) if results.get(s) != serial.get(s)}
        figures["differing"] = sorted(differing)
        figures["kill"] = {
            "killed_while_grading": killed[0] if killed else None,
            "graded": len(summary.graded),
            "failed": len(summary.failed),
            "graded_by_rerun": len(rerun.outcomes),
            "grades_equal_serial": results == serial,
        }
    return figures


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


def report_grade_command() -> None:
    """Print the grading command's figures (see :func:`bench_grade_command`)."""
    print("grading a class: stock serial nbgrader vs `grade` (other load on the machine inflates both)")
    g = bench_grade_command()
    print(f"  {g['submissions']} submissions of 01-fundamentals")
    failed = f"   ({g['serial_failed']} submissions got no grade)" if g["serial_failed"] else ""
    print(f"  stock nbgrader autograde (serial) {g['serial']:6.1f} s{failed}")
    for n, seconds in g["workers"].items():
        ratio = g["serial"] / seconds
        print(f"  grade --workers {n:<2}               {seconds:6.1f} s   {ratio:4.2f}x   "
              f"{'ok' if ratio >= TARGETS['speedup'] else 'UNDER the 2.5x target'}")
    differing = ", ".join(g["differing"])
    print(f"  same grades in every run: {'NO: ' + differing if differing else 'yes'}")
    k = g["kill"]
    print(f"  a worker killed while grading {k['killed_while_grading']}: {k['graded']} graded, "
          f"{k['failed']} failed, {k['graded_by_rerun']} left for a second run, grades equal "
          f"serial: {'yes' if k['grades_equal_serial'] else 'NO'}")


def run(suite: bool = True, grading_only: bool = False, walkthroughs_only: list[str] | None = None,
        repeat: int = REPEAT) -> int:
    """Run the benchmarks and print one line per figure.

    ``walkthroughs_only`` (a list, empty for all) times only those walkthroughs.
    """
    if grading_only:
        report_grade_command()
        return 0
    if walkthroughs_only is not None:
        from helpers.course.execute import select

        report_walkthroughs(select(walkthroughs_only), repeat)
        return 0
    report_walkthroughs(walkthroughs(), repeat)
    print("autograde, seconds per submission")
    for assignment in assignments():
        per, n = bench_autograde(assignment)
        print(f"  {assignment:<20} {per:6.2f} s   ({n} submissions)   {verdict(per, TARGETS['autograde'])}")
    report_grade_command()
    seconds, rows = bench_dataset()
    print(f"step 03 dataset build  {seconds:6.1f} s   ({rows:,} rows in the biggest table)   "
          f"{verdict(seconds, TARGETS['dataset'])}")
    if suite:
        s = bench_suite()
        print(f"whole test suite       {s:6.0f} s   {verdict(s, TARGETS['suite'])}")
    return 0
