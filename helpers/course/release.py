"""Regenerate ``exercises/`` from ``solutions/`` with nbgrader, or check it is current.

``exercises/`` is never edited by hand: ``make release`` (``python -m helpers.course
release``) runs ``nbgrader generate_assignment`` for every assignment in a scratch
course and copies the student versions back. ``--check`` compares instead of
copying, which is what the test suite does.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from helpers.course.grading import ScratchCourse
from helpers.course.steps import EXERCISES, assignments, find_step

FIX = "run `make release` (or `python -m helpers.course release`) and commit exercises/"


def generate(assignment: str, workdir: Path) -> Path:
    """Generate ``assignment``'s student version under ``workdir``; return its folder."""
    course = ScratchCourse(workdir / assignment, assignment)
    course.generate()
    return course.released_notebook.parent


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }


def differences(assignment: str, fresh_folder: Path) -> list[str]:
    """Files of ``exercises/<assignment>`` that differ from the release in ``fresh_folder``."""
    fresh = _files(fresh_folder)
    committed = _files(EXERCISES / assignment) if (EXERCISES / assignment).exists() else {}
    names = sorted(set(fresh) | set(committed))
    return [name for name in names if fresh.get(name) != committed.get(name)]


def stale(assignment: str) -> list[str]:
    """Files of ``exercises/<assignment>`` that differ from a fresh release (empty if current)."""
    with tempfile.TemporaryDirectory() as tmp:
        return differences(assignment, generate(assignment, Path(tmp)))


def release(selected: list[str] | None = None) -> list[str]:
    """Regenerate ``exercises/`` for the selected (default: all) assignments."""
    done = []
    # `make release STEP=09` names a step by its number, like `make execute STEP=09`.
    selected = [find_step(name).slug for name in selected] if selected else None
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in selected or assignments():
            folder = generate(assignment, Path(tmp))
            target = EXERCISES / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(folder, target)
            done.append(assignment)
    return done
