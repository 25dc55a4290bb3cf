"""Build what the students of a graded class receive: the course without its answers.

A clone of this repository has ``solutions/``: every reference answer and hidden
test. That suits self-learners and sinks a graded class. :func:`publish` copies
what students need into a folder (optionally a fresh git repository, to push
wherever students clone from):

- the walkthroughs (``notebooks/``) and the released exercises (``exercises/``);
- the installable ``helpers`` package with ``pyproject.toml``, so
  ``pip install <folder or its git URL>`` gives any kernel what the exercises import;
- the README, Makefile, nbgrader config and what ``pytest notebooks`` needs;

and leaves out ``solutions/``, ``tests/`` (the grading proofs and the wrong-answer
catalogue) and every working folder of grading. It then checks its own output:
:func:`leaks` finds any solution or hidden-test line in it, and publishing fails if
there is one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers.course.cells import read
from helpers.course.steps import REPO

#: What students receive, relative to the repository.
INCLUDED = [
    "README.md", "Makefile", "pyproject.toml", "nbgrader_config.py", ".gitignore",
    "notebooks", "exercises", "helpers",
    "tests/conftest.py", "tests/nbval_sanitize.cfg",  # `pytest notebooks` needs these two
]
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
# Lines too short to be evidence (`)`, `return x`, `pass`) are not looked for.
_MIN_LINE = 16


def _secret_lines(repo: Path) -> set[str]:
    """Lines of solutions and hidden tests that the released exercises do not show."""
    secret: set[str] = set()
    public: set[str] = set()
    for solution in sorted((repo / "solutions").glob("*/*.ipynb")):
        released = repo / "exercises" / solution.parent.name / solution.name
        if released.exists():
            public |= {ln.strip() for c in read(released).cells for ln in c.source.splitlines()}
        for cell in read(solution).cells:
            inside = False
            for line in cell.source.splitlines():
                marker = line.strip()
                if marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif marker in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif inside and len(marker) >= _MIN_LINE:
                    secret.add(marker)
    # Walkthroughs and helpers are public by design: a line they teach, or that a test
    # checker in helpers/ shares with an answer (`for line in lines:`), is not a leak.
    for walkthrough in sorted((repo / "notebooks").glob("*.ipynb")):
        public |= {ln.strip() for c in read(walkthrough).cells for ln in c.source.splitlines()}
    for module in sorted((repo / "helpers").rglob("*.py")):
        public |= {ln.strip() for ln in module.read_text(encoding="utf-8").splitlines()}
    return secret - public


def leaks(folder: Path, repo: Path = REPO) -> list[str]:
    """``path: line`` for every solution or hidden-test line found in ``folder`` (empty: none)."""
    secret = _secret_lines(repo)
    found = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or ".git" in path.relative_to(folder).parts:
            continue
        if path.suffix == ".ipynb":
            lines = [ln for c in read(path).cells for ln in c.source.splitlines()]
            markers = [ln for ln in lines if "BEGIN SOLUTION" in ln or "BEGIN HIDDEN TESTS" in ln]
            found += [f"{path.relative_to(folder)}: {ln.strip()}" for ln in markers]
        else:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError:
                continue  # binary files carry no source lines
        found += [f"{path.relative_to(folder)}: {ln.strip()}" for ln in lines if ln.strip() in secret]
    return found


def publish(target: Path, repo: Path = REPO, git: bool = False) -> Path:
    """Build the students' copy in ``target`` (which must not exist or be empty); return it."""
    target = Path(target).resolve()
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"{target} is not empty: give a new folder (nothing is overwritten).")
    if target == repo.resolve() or repo.resolve() in target.parents:
        raise SystemExit(f"Publish outside the course's folder ({repo}), not into {target}.")
    target.mkdir(parents=True, exist_ok=True)
    for name in INCLUDED:
        source = repo / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=_SKIP)
        elif source.exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    found = leaks(target, repo)
    if found:
        shutil.rmtree(target)
        raise SystemExit("Not published: these lines of solutions or hidden tests were in it:\n"
                         + "\n".join(f"  {line}" for line in found[:20]))
    if git:
        git_exe = shutil.which("git")
        if git_exe is None:
            raise SystemExit(f"Published to {target}; git is not installed, so run `git init` there.")
        for args in (["init", "-q"], ["add", "-A"],
                     ["-c", "user.name=course", "-c", "user.email=course@localhost",
                      "commit", "-qm", "Course release for students"]):
            subprocess.run([git_exe, *args], cwd=target, check=True, capture_output=True)
    return target
