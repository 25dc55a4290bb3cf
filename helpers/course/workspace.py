"""A learner's own copies of the exercises and walkthroughs, in ``my-work/`` (git ignores it).

Learners never edit tracked files: JupyterLab autosaves a notebook it runs, and a
``git pull`` that updates the course would then conflict. ``ensure_copies`` (run by
``make lab`` and ``make check``) creates, once and never overwriting:

- ``my-work/NN-step/NN-step.ipynb``: the exercises, from ``exercises/``;
- ``my-work/NN-step-walkthrough.ipynb``: the walkthrough, from ``notebooks/``, with its
  links pointing at the other copies and the course home. It sits directly in
  ``my-work/`` so its working directory is one level below the repository, as
  ``notebooks/`` is.

``reset`` gives one copy a fresh start and moves the old file to ``my-work/backups/``.
It refuses while the notebook is open in a running JupyterLab: the open tab would
otherwise save its old contents over the fresh copy.
"""

from __future__ import annotations

import json
import platform
import re
import urllib.request
from datetime import datetime
from pathlib import Path

import nbformat

from helpers.course import steps
from helpers.course.steps import STEPS, Step


def backups_dir() -> Path:
    """``my-work/backups/``: old copies kept by ``reset``, out of the way of the live ones."""
    return steps.WORK / "backups"


def walkthrough_copy(step: Step) -> Path:
    """The learner's copy of ``step``'s walkthrough."""
    return steps.WORK / f"{step.slug}-walkthrough.ipynb"


def language_info() -> dict:
    """What this environment's Python kernel (ipykernel) reports about its language.

    JupyterLab writes the kernel's ``language_info`` into a notebook when it opens; a copy
    that already holds exactly that opens saved, not with an unsaved-changes dot.
    """
    return {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": platform.python_version(),
    }


def write_copy(nb: nbformat.NotebookNode, target: Path) -> None:
    """Write a learner's copy, fitted to this environment's kernel (see language_info)."""
    nb.metadata["language_info"] = language_info()
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def copy_exercises(step: Step, target: Path) -> None:
    """Write ``step``'s released exercises to ``target``."""
    write_copy(nbformat.read(step.exercise, as_version=4), target)


def copy_walkthrough(step: Step, target: Path) -> None:
    """Write ``step``'s walkthrough to ``target`` with links that work from ``my-work/``."""
    nb = nbformat.read(step.walkthrough, as_version=4)
    names = {s.slug for s in STEPS}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(
                r"\]\((\d\d[a-z]?-[a-z-]+)\.ipynb\)",  # 09-beyond-rest, 10a-blog
                lambda m: f"]({m.group(1)}-walkthrough.ipynb)" if m.group(1) in names else m.group(0),
                cell.source,
            ).replace("](../README.md#the-steps)", "](../HOME.md)")
    write_copy(nb, target)


def ensure_copies() -> list[Path]:
    """Create every missing copy (exercises and walkthroughs); return the new ones."""
    created = []
    for step in STEPS:
        if step.built and not step.work_copy.exists():
            copy_exercises(step, step.work_copy)
            created.append(step.work_copy)
        if step.walkthrough.exists() and not walkthrough_copy(step).exists():
            copy_walkthrough(step, walkthrough_copy(step))
            created.append(walkthrough_copy(step))
    move_old_backups()
    return created


def move_old_backups() -> list[Path]:
    """Move backups that older versions kept beside the live copy into ``my-work/backups/``."""
    moved = []
    for old in sorted(steps.WORK.glob("*/*.backup-*.ipynb")):
        if old.parent == backups_dir():
            continue
        stem, _, stamp = old.stem.partition(".backup-")
        target = unique(backups_dir() / f"{stem}-{stamp}.ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        old.rename(target)
        moved.append(target)
    return moved


def unique(path: Path) -> Path:
    """``path``, or ``path`` with ``-1``, ``-2``... if that name is taken."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def backup_path(path: Path, now: datetime | None = None) -> Path:
    """Where ``reset`` keeps the old copy: ``my-work/backups/<name>-<date>-<time>.ipynb``."""
    stamp = (now or datetime.now()).strftime("%Y-%m-%d-%H%M%S")
    return unique(backups_dir() / f"{path.stem}-{stamp}{path.suffix}")


def open_in_jupyter(path: Path) -> list[str]:
    """URLs of running Jupyter servers with ``path`` open (a notebook tab with its kernel)."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # pragma: no cover - jupyter_server is a dependency
        return []
    found = []
    for server in list_running_servers():
        try:
            relative = path.resolve().relative_to(Path(server["root_dir"]).resolve()).as_posix()
        except (KeyError, ValueError):
            continue
        url = server.get("url", "")
        if not url.startswith(("http://", "https://")):
            continue
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            url.rstrip("/") + "/api/sessions",
            headers={"Authorization": f"token {server.get('token', '')}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                sessions = json.load(response)
        except (OSError, ValueError):
            continue  # a stale server file or a server that is shutting down
        if any(s.get("path") == relative for s in sessions):
            found.append(url)
    return found


class CopyIsOpen(SystemExit):
    """``reset`` refused: the notebook is open in JupyterLab (exit code 3)."""

    def __init__(self, path: Path, urls: list[str]) -> None:
        super().__init__(3)
        self.message = (
            f"{relative(path)} is open in JupyterLab ({', '.join(urls)}). Close its tab first "
            "(File > Close and Shut Down Notebook), then run the reset again: an open tab would "
            "save your old answers over the fresh copy. Nothing was changed."
        )

    def __str__(self) -> str:
        return self.message


def reset_file(live: Path, write_fresh) -> tuple[Path, Path | None]:
    """Move ``live`` to ``my-work/backups/`` and write a fresh one; (copy, backup or None)."""
    urls = open_in_jupyter(live) if live.exists() else []
    if urls:
        raise CopyIsOpen(live, urls)
    backup = None
    if live.exists():
        backup = backup_path(live)
        backup.parent.mkdir(parents=True, exist_ok=True)
        live.rename(backup)
    live.parent.mkdir(parents=True, exist_ok=True)
    write_fresh(live)
    return live, backup


class NoExercises(SystemExit):
    """``reset`` of a step that has no exercises yet (exit code 2)."""

    def __init__(self, step: Step) -> None:
        super().__init__(2)
        self.message = f"Step {step.slug} has no exercises yet (coming); there is nothing to reset."

    def __str__(self) -> str:
        return self.message


def reset(step: Step) -> tuple[Path, Path | None]:
    """A fresh copy of ``step``'s exercises; return (the copy, the backup of the old one or None)."""
    if not step.built:
        raise NoExercises(step)
    return reset_file(step.work_copy, lambda target: copy_exercises(step, target))


def reset_walkthrough(step: Step) -> tuple[Path, Path | None]:
    """A pristine copy of ``step``'s walkthrough; return (the copy, the backup or None)."""
    return reset_file(walkthrough_copy(step), lambda target: copy_walkthrough(step, target))


def relative(path: Path) -> str:
    """``path`` relative to the repository, for messages."""
    try:
        return str(path.relative_to(steps.REPO))
    except ValueError:
        return str(path)
