"""What students of a graded class receive holds no solution and no hidden test."""

from __future__ import annotations

import pytest

from helpers.course.steps import EXERCISES, NOTEBOOKS, REPO, SOLUTIONS, assignments
from helpers.grader.publish import leaks, publish


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return publish(tmp_path_factory.mktemp("students") / "course", git=True)


def test_students_get_walkthroughs_exercises_and_the_installable_helpers(published):
    for walkthrough in NOTEBOOKS.glob("*.ipynb"):
        assert (published / "notebooks" / walkthrough.name).exists()
    for assignment in assignments():
        assert (published / "exercises" / assignment / f"{assignment}.ipynb").exists()
    for needed in ("pyproject.toml", "README.md", "helpers/course/selfcheck.py", "tests/nbval_sanitize.cfg"):
        assert (published / needed).exists(), f"{needed} is not in the students' copy"
    assert (published / ".git").is_dir(), "--git makes it a repository to push"


def test_nothing_secret_is_in_it(published):
    assert not (published / "solutions").exists()
    assert not (published / "tests" / "mistakes").exists()
    assert sorted(p.name for p in (published / "tests").iterdir()) == ["conftest.py", "nbval_sanitize.cfg"]
    assert leaks(published) == []


def test_the_leak_check_finds_a_hidden_test_line_and_a_solution(published, tmp_path):
    """Proof that test_nothing_secret_is_in_it can fail: plant one of each and it is found."""
    a = assignments()[0]
    source = (SOLUTIONS / a / f"{a}.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" in source
    planted = published / "notebooks" / "notes.py"
    hidden = _first_secret_line(a, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    answer = _first_secret_line(a, "### BEGIN SOLUTION", "### END SOLUTION")
    planted.write_text(f"{hidden}\n{answer}\n")
    try:
        found = leaks(published)
    finally:
        planted.unlink()
    assert found == [f"notebooks/notes.py: {hidden}", f"notebooks/notes.py: {answer}"]


def _first_secret_line(assignment: str, begin: str, end: str) -> str:
    """A long line between ``begin`` and ``end`` that the release does not show."""
    from helpers.course.cells import read

    released = (EXERCISES / assignment / f"{assignment}.ipynb").read_text()
    for cell in read(SOLUTIONS / assignment / f"{assignment}.ipynb").cells:
        lines = [ln.strip() for ln in cell.source.splitlines()]
        if begin in lines:
            inside = lines[lines.index(begin) + 1: lines.index(end)]
            for line in inside:
                if len(line) > 30 and line not in released and line not in _public():
                    return line
    raise AssertionError(f"no secret line in {assignment}")


def _public() -> str:
    return "".join(p.read_text() for p in [*NOTEBOOKS.glob("*.ipynb"), *(REPO / "helpers").rglob("*.py")])


def test_publishing_never_overwrites_nor_writes_into_the_course(published):
    with pytest.raises(SystemExit, match="not empty"):
        publish(published)
    with pytest.raises(SystemExit, match="outside the course's folder"):
        publish(REPO / "students")
    assert not (REPO / "students").exists()
