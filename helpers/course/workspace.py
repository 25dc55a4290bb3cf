"""A learner's own copies of the exercises, in ``my-work/`` (which git ignores).

Learners never edit ``exercises/``: a ``git pull`` that updates the course would
conflict with their answers. ``ensure_copies`` (run by ``make lab`` and ``make check``)
copies each released exercise into ``my-work/`` once, and never overwrites.
``reset`` gives one exercise a fresh copy and keeps the old file as a backup.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from helpers.course.steps import STEPS, WORK, Step


def ensure_copies() -> list[Path]:
    """Copy every released exercise that has no copy in ``my-work/`` yet; return the new ones."""
    created = []
    for step in STEPS:
        if step.built and not step.work_copy.exists():
            step.work_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(step.exercise, step.work_copy)
            created.append(step.work_copy)
    return created


def backup_path(path: Path, now: datetime | None = None) -> Path:
    """Where ``reset`` keeps the old copy: beside it, with a timestamp in the name."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")
        n += 1
    return candidate


def reset(step: Step) -> tuple[Path, Path | None]:
    """Give ``step`` a fresh copy; return (the copy, the backup of the old one or None)."""
    if not step.built:
        raise SystemExit(f"Step {step.slug} has no exercises yet.")
    backup = None
    if step.work_copy.exists():
        backup = backup_path(step.work_copy)
        step.work_copy.rename(backup)
    step.work_copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(step.exercise, step.work_copy)
    return step.work_copy, backup


def relative(path: Path) -> str:
    """``path`` relative to the repository, for messages."""
    try:
        return str(path.relative_to(WORK.parent))
    except ValueError:
        return str(path)
