"""A class on JupyterHub: nbgrader's own exchange round trip, and the installable helpers.

The round trip runs nbgrader's commands in this process (nbgrader's test helper), so
nbgrader is imported once rather than six times: release_assignment → fetch_assignment
→ submit (as the student) → collect → autograde, in a temporary exchange directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest

from helpers.course import authoring
from helpers.course.cells import read
from helpers.course.grading import COURSE_ID, nbgrader_env
from helpers.course.steps import REPO

ASSIGNMENT = "hw1"
SOLUTION = "    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
HIDDEN = "### BEGIN HIDDEN TESTS\nassert add(-1, 1) == 0\n### END HIDDEN TESTS"


def _nbgrader(args, cwd, monkeypatch):
    from nbgrader.tests import run_nbgrader

    monkeypatch.chdir(cwd)
    return run_nbgrader(args)  # raises AssertionError with the log if the exit code is not 0


@pytest.mark.grading
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::sqlalchemy.exc.SAWarning")
def test_exchange_round_trip(tmp_path, monkeypatch):
    course, student, exchange = tmp_path / "course", tmp_path / "student", tmp_path / "exchange"
    for folder in (course, student, exchange):
        folder.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    authoring.save(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", [
        authoring.md("## Question 1.1 — Add (2 points)"),
        authoring.answer("q1-answer", f"def add(a, b):\n{SOLUTION}"),
        authoring.tests("q1-visible", 1, '"""add adds."""\nassert add(1, 2) == 3'),
        authoring.tests("q1-hidden", 1, f'"""add: negatives."""\n{HIDDEN}'),
    ])
    for key, value in nbgrader_env().items():  # alembic and kernels from this environment
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LAB_EXCHANGE_ROOT", str(exchange))  # what nbgrader_config.py reads
    as_student = [f"--CourseDirectory.course_id={COURSE_ID}", f"--Exchange.root={exchange}"]

    start = time.perf_counter()
    _nbgrader(["generate_assignment", ASSIGNMENT], course, monkeypatch)
    _nbgrader(["release_assignment", ASSIGNMENT], course, monkeypatch)
    assert (exchange / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()

    _nbgrader(["fetch_assignment", ASSIGNMENT, *as_student], student, monkeypatch)
    fetched = student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = read(fetched)
    assert "add(-1, 1)" not in fetched.read_text() and "return a + b" not in fetched.read_text()
    nb.cells[1].source = "def add(a, b):\n    return a + b"  # the student's answer
    nbformat.write(nb, fetched)
    _nbgrader(["submit", ASSIGNMENT, *as_student], student, monkeypatch)

    _nbgrader(["collect", ASSIGNMENT], course, monkeypatch)
    collected = list((course / "submitted").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    assert len(collected) == 1, f"collect placed {collected}"
    _nbgrader(["autograde", ASSIGNMENT], course, monkeypatch)
    elapsed = time.perf_counter() - start

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        scores = {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(ASSIGNMENT)}
    assert list(scores.values()) == [(2.0, 2.0)], scores
    print(f"exchange round trip: {elapsed:.1f} s")


def test_helpers_install_as_a_package_without_solutions(tmp_path):
    """`pip install <repo>` gives a kernel `helpers` (with its data files) and nothing secret."""
    # A copy of the checkout (solutions/ included), so the build leaves nothing in the repository.
    source = tmp_path / "checkout"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "my-work", "submitted", "autograded"))
    assert (source / "solutions").is_dir()
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(source)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"helpers"}, f"the wheel installs {sorted(top)}; only `helpers` should be importable"
    for needed in ("helpers/course/cells.py", "helpers/grader/lms.py",
                   "helpers/grader/templates/feedback_named/index.html.j2", "helpers/mini_api/__init__.py"):
        assert needed in names, f"{needed} is missing from the wheel"
    assert not [n for n in names if "solution" in n.lower() or n.endswith(".ipynb")]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_single_machine_course_has_a_working_exchange(tmp_path, monkeypatch, caplog):
    """The formgrader checks the exchange on every page and logs CRITICAL if it is missing."""
    from nbgrader.apps.api import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.delenv("LAB_EXCHANGE_ROOT", raising=False)
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    api = NbGraderAPI(config=config)
    assert api.exchange_root == str(tmp_path / "exchange")
    assert not api.exchange_missing
    assert not [r for r in caplog.records if r.levelname == "CRITICAL"]
    # Its debug panel dumps the config as JSON and warns "not serializable" on our classes.
    assert config.FormgradeExtension.debug is False
