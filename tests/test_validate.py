"""The Validate button's answer for the course's exercises (helpers/course/validate.py).

These call the Validator the server handler uses, on copies in a temporary folder;
tests/browser/test_jupyterlab.py clicks the real button.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from helpers.course import lab, selfcheck, steps, validate
from helpers.course.cells import answer_cells, read

STEP = next(s for s in steps.STEPS if s.built)


def solved_answers(nb):
    """``nb`` with every answer taken from the solution (markers and all)."""
    solution = answer_cells(read(STEP.solution))
    for grade_id, cell in answer_cells(nb).items():
        cell.source = solution[grade_id].source
    return nb


@pytest.fixture
def copy_path(tmp_path):
    path = tmp_path / "my-work" / STEP.slug / f"{STEP.slug}.ipynb"
    path.parent.mkdir(parents=True)
    return path


def summary(path) -> str:
    result = validate.CourseValidator().validate(str(path))
    assert list(result) == ["failed"] and len(result["failed"]) == 1, (
        "one entry: an empty result would make nbgrader's dialog say 'passes all the tests'"
    )
    entry = result["failed"][0]
    assert entry["source"] == "" and 'class="course-validate"' in entry["error"]
    return entry["raw_error"]


def test_untouched_copy_is_not_started_question_by_question_without_tracebacks(copy_path):
    nbformat.write(read(STEP.exercise), copy_path)
    text = summary(copy_path)
    questions = selfcheck.released_questions(read(STEP.exercise))
    total = sum(q.available for q in questions)
    assert f"Visible tests: 0/{total:g} points, 0 of {len(questions)} questions passed" in text
    for q in questions:
        assert f"○ {q.heading}: not started" in text
    assert "Traceback" not in text and "stub that raises NotImplementedError" in text
    assert "Hidden tests did not run" in text and "passes all the tests" not in text


def test_partly_solved_copy_says_what_passed_what_fails_and_why(copy_path):
    nb = solved_answers(read(STEP.exercise))
    answers = list(answer_cells(nb).values())
    answers[1].source = answers[1].source.replace("return", "return None and", 1)
    stub = list(answer_cells(read(STEP.exercise)).values())
    for i, cell in enumerate(answers[2:], start=2):
        cell.source = stub[i].source
    answers[3].source = "# started, not finished\n" + answers[3].source  # still the stub's raise
    nbformat.write(nb, copy_path)
    text = summary(copy_path)
    first, second, *rest = selfcheck.released_questions(read(STEP.exercise))
    total = first.available + second.available + sum(q.available for q in rest)
    assert f"Visible tests: {first.available:g}/{total:g} points, 1 of {2 + len(rest)}" in text
    assert f"✓ {first.heading}: passed" in text
    lines = text.splitlines()
    failing = lines.index(f"✗ {second.heading}: failing")
    assert "expected" in lines[failing + 1] and "got None" in lines[failing + 1], lines[failing + 1]
    assert all(f"○ {q.heading}: not started" in text for q in rest), text
    assert "Traceback" not in text and "Hidden tests did not run" in text


def test_a_solved_copy_passes_every_question_but_is_not_told_it_passes_all_tests(copy_path):
    nbformat.write(solved_answers(read(STEP.exercise)), copy_path)
    text = summary(copy_path)
    questions = selfcheck.released_questions(read(STEP.exercise))
    total = sum(q.available for q in questions)
    assert f"Visible tests: {total:g}/{total:g} points, {len(questions)} of {len(questions)}" in text
    assert all(f"✓ {q.heading}: passed" in text for q in questions), text
    assert "Hidden tests did not run" in text


def test_a_copy_with_deleted_answer_cells_says_how_to_recover(copy_path):
    nb = read(STEP.exercise)
    gone = next(iter(answer_cells(nb)))
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != gone]
    nbformat.write(nb, copy_path)
    text = summary(copy_path)
    assert f"missing graded cells {gone}" in text and "make reset" in text
    assert "not started" not in text, "no per-question list when nothing ran"


def test_a_notebook_without_exercises_says_what_validate_is_for(tmp_path):
    nbformat.write(read(STEP.walkthrough), tmp_path / "walkthrough.ipynb")
    text = summary(tmp_path / "walkthrough.ipynb")
    assert text == validate.NO_EXERCISES and "my-work/" in text


def test_the_step_is_found_by_file_name_or_by_its_cells(tmp_path):
    nb = read(STEP.exercise)
    assert validate.step_of(nb, tmp_path / f"{STEP.slug}-Copy1.ipynb") == STEP
    assert validate.step_of(nb, tmp_path / "renamed.ipynb") == STEP
    assert validate.step_of(read(STEP.walkthrough), tmp_path / "x.ipynb") is None
    assert validate.check(STEP.solution) is None, "an instructor's source keeps nbgrader's own checks"


def test_make_lab_enables_the_handler_before_nbgraders(tmp_path):
    path = lab.write_server_config(config_dir=tmp_path)
    enabled = json.loads(path.read_text())["ServerApp"]["jpserver_extensions"]
    assert enabled == {"helpers.course.validate": True}
    # Jupyter Server loads extensions alphabetically; the first handler for a URL wins.
    assert sorted([lab.VALIDATE_EXTENSION, "nbgrader"])[0] == lab.VALIDATE_EXTENSION
    assert validate._jupyter_server_extension_points() == [{"module": lab.VALIDATE_EXTENSION}]
