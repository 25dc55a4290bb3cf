"""Re-run walkthrough notebooks top to bottom in fresh kernels and save their outputs.

``make execute`` (``python -m helpers.course execute [slug ...]``) is the one command
that regenerates what nbval checks. Each notebook runs in its own kernel, with
``notebooks/`` as the working directory, exactly as a learner opening it would.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers.course import navigation
from helpers.course.steps import NOTEBOOKS, find_step, walkthroughs

TIMEOUT = 120  # seconds per cell; a walkthrough cell should take a few


def execute(path: Path) -> float:
    """Refresh navigation, execute ``path`` in place in a fresh kernel; return the seconds."""
    nb = nbformat.read(path, as_version=4)
    navigation.apply(nb, path.stem)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def select(slugs: list[str]) -> list[Path]:
    """The walkthroughs of the steps named ``slugs`` (``1``, ``01``, ``fundamentals``...; all when empty)."""
    paths = walkthroughs()
    if not slugs:
        return paths
    chosen = {find_step(name).walkthrough for name in slugs}
    missing = sorted(p.stem for p in chosen if not p.exists())
    if missing:
        raise SystemExit(f"No walkthrough yet for {', '.join(missing)}.")
    return [p for p in paths if p in chosen]
