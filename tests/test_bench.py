"""`make bench`'s walkthrough figures: whole `jupyter execute` processes against the 10 s target."""

from __future__ import annotations

import subprocess

import nbformat
import pytest

from helpers.course import bench
from helpers.course.steps import REPO


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def leftovers(name):
    """Copies of notebook ``name`` left in temporary folders (another bench may be running)."""
    return sorted(str(p) for p in REPO.glob(f".bench-*/{name}"))


def test_a_walkthrough_is_timed_as_a_whole_process_on_a_copy(tmp_path):
    """Kernel start-up and every cell count; the copy runs one level below the repository."""
    original = notebook(
        tmp_path / "99-probe.ipynb",
        "import os, time\ntime.sleep(0.5)",
        # Relative paths resolve as in notebooks/: the repository is the parent folder.
        "assert os.path.exists('../pyproject.toml'), os.getcwd()",
    )
    text = original.read_text()
    cells = []
    seconds = bench.bench_walkthrough(original, cells)
    assert seconds > 0.5, f"the sleeping cell alone takes 0.5 s; measured {seconds:.2f} s"
    [times] = cells
    assert set(times) == {0, 1} and 0.5 <= times[0] < seconds and times[1] < times[0], times
    assert original.read_text() == text, "the walkthrough itself must not be rewritten"
    assert leftovers(original.name) == [], "the temporary copy must be removed"


def test_a_failing_walkthrough_is_not_timed_as_if_it_ran(tmp_path):
    broken = notebook(tmp_path / "99-broken.ipynb", "raise RuntimeError('planted')")
    with pytest.raises(subprocess.CalledProcessError):
        bench.bench_walkthrough(broken)


def test_cell_seconds_reads_the_times_nbclient_records():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("1"),
                nbformat.v4.new_code_cell("2")]
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2026-11-30T06:16:45.060170Z",
                                         "shell.execute_reply": "2026-11-30T06:16:47.560170Z"}
    assert bench.cell_seconds(nb) == {1: 2.5}  # the markdown cell and the unrun cell have no times


def test_slowest_cells_are_named_by_their_first_line(tmp_path):
    path = notebook(tmp_path / "01-x.ipynb", "import matplotlib.pyplot as plt", "\n# the pool demo\nx = 1",
                    "y = 2  # a very long first line that goes on and on and on")
    runs = [{0: 2.0, 1: 0.5, 2: 1.0}, {0: 2.2, 1: 3.0, 2: 1.0}, {0: 1.8, 1: 0.7, 2: 1.2}]
    line = bench.slowest_cells(path, runs, top=2)
    assert line.strip() == ("all cells 3.7 s; slowest: 2.0 s 'import matplotlib.pyplot as plt', "
                            "1.0 s 'y = 2  # a very long first line that go…'")
    assert bench.slowest_cells(path, []) == ""


def test_each_walkthrough_is_reported_against_the_target(monkeypatch, capsys, tmp_path):
    """One line per walkthrough (median of the runs, the cells' share), the floor, and a summary."""
    times = {"01-fast": iter([4.0, 9.0, 5.0]), "02-slow": iter([12.0, 11.0, 30.0])}

    def fake_run(path, cells=None):
        cells.append({0: 1.5})
        return next(times[path.stem])

    for name in times:
        notebook(tmp_path / f"{name}.ipynb", "import time")
    monkeypatch.setattr(bench, "bench_walkthrough", fake_run)
    monkeypatch.setattr(bench, "bench_baseline", lambda: 3.0)
    monkeypatch.setattr(bench, "bench_client_import", lambda: 1.0)
    medians = bench.report_walkthroughs([tmp_path / "01-fast.ipynb", tmp_path / "02-slow.ipynb"], repeat=3)
    out = capsys.readouterr().out
    assert medians == [5.0, 12.0]
    assert "kernel start-up included" in out and "target 10 s" in out
    assert "trivial notebook        3.0 s" in out
    assert "01-fast                 5.0 s   (runs 4.0, 9.0, 5.0; cells 2.0 s) ok" in out
    assert "02-slow                12.0 s   (runs 12.0, 11.0, 30.0; cells 9.0 s) OVER the 10 s target" in out
    assert "1 of 2 walkthroughs within 10 s" in out
    assert out.count("all cells 1.5 s; slowest: 1.5 s 'import time'") == 2


def test_walkthroughs_only_times_the_named_steps(monkeypatch, capsys):
    timed = []
    monkeypatch.setattr(bench, "bench_walkthrough", lambda path, cells=None: timed.append(path.stem) or 1.0)
    monkeypatch.setattr(bench, "bench_baseline", lambda: 0.5)
    monkeypatch.setattr(bench, "bench_client_import", lambda: 0.1)
    assert bench.run(walkthroughs_only=["01"], repeat=2) == 0
    assert timed == ["01-fundamentals", "01-fundamentals"]
    assert "1 of 1 walkthroughs within 10 s" in capsys.readouterr().out
