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


def leftovers():
    return sorted(p.name for p in REPO.glob(".bench-*"))


def test_a_walkthrough_is_timed_as_a_whole_process_on_a_copy(tmp_path):
    """Kernel start-up and every cell count; the copy runs one level below the repository."""
    before = leftovers()
    original = notebook(
        tmp_path / "99-probe.ipynb",
        "import os, time\ntime.sleep(0.5)",
        # Relative paths resolve as in notebooks/: the repository is the parent folder.
        "assert os.path.exists('../pyproject.toml'), os.getcwd()",
    )
    text = original.read_text()
    seconds = bench.bench_walkthrough(original)
    assert seconds > 0.5, f"the sleeping cell alone takes 0.5 s; measured {seconds:.2f} s"
    assert original.read_text() == text, "the walkthrough itself must not be rewritten"
    assert leftovers() == before, "the temporary copy must be removed"


def test_a_failing_walkthrough_is_not_timed_as_if_it_ran(tmp_path):
    broken = notebook(tmp_path / "99-broken.ipynb", "raise RuntimeError('planted')")
    with pytest.raises(subprocess.CalledProcessError):
        bench.bench_walkthrough(broken)


def test_each_walkthrough_is_reported_against_the_target(monkeypatch, capsys, tmp_path):
    """One line per walkthrough (median of the runs, the cells' share), the floor, and a summary."""
    times = {"01-fast": iter([4.0, 9.0, 5.0]), "02-slow": iter([12.0, 11.0, 30.0])}
    monkeypatch.setattr(bench, "bench_walkthrough", lambda path: next(times[path.stem]))
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


def test_walkthroughs_only_times_the_named_steps(monkeypatch, capsys):
    timed = []
    monkeypatch.setattr(bench, "bench_walkthrough", lambda path: timed.append(path.stem) or 1.0)
    monkeypatch.setattr(bench, "bench_baseline", lambda: 0.5)
    monkeypatch.setattr(bench, "bench_client_import", lambda: 0.1)
    assert bench.run(walkthroughs_only=["01"], repeat=2) == 0
    assert timed == ["01-fundamentals", "01-fundamentals"]
    assert "1 of 1 walkthroughs within 10 s" in capsys.readouterr().out
