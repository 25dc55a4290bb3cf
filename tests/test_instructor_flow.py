"""An instructor's round trip with an LMS zip, as the README's instructor section runs it.

collect (Canvas zip) → autograde (with its report) → feedback → handback → export, then
update after an edit of solutions/. One small class of four in a throwaway course:
two students both named Jane Doe (one late), one with a misnamed upload who edited a
test cell, and one who uploaded a PDF.
"""

from __future__ import annotations

import csv
import zipfile
from datetime import datetime

import nbformat
import pytest

from helpers.course.cells import answer_cells, graded_cells, read
from helpers.course.grading import ScratchCourse, run_nbgrader
from helpers.course.steps import SOLUTIONS
from helpers.grader import workflow
from helpers.grader.collect import collect
from helpers.grader.export import assigned, export
from helpers.grader.handback import handback

pytestmark = pytest.mark.grading
A = "01-fundamentals"
DUE = datetime(2026, 11, 2, 23, 59)


def points(grade_id: str | None = None) -> float:
    """Points of one graded cell of the step's solution, or of all of them (full marks)."""
    cells = graded_cells(read(SOLUTIONS / A / f"{A}.ipynb"))
    return sum(float(c.metadata.nbgrader["points"]) for g, c in cells.items() if grade_id in (None, g))


FULL = points()


def answered(course: ScratchCourse) -> nbformat.NotebookNode:
    """The released notebook with every answer cell filled in from the solution (full marks)."""
    nb = read(course.released_notebook)
    solutions = answer_cells(read(course.source_notebook))
    for grade_id, cell in answer_cells(nb).items():
        cell.source = solutions[grade_id].source
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = ScratchCourse(tmp_path_factory.mktemp("class"), A)
    # Late submissions score zero once the due date has passed (nbgrader reads timestamp.txt).
    with open(course.root / "nbgrader_config.py", "a") as f:
        f.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    course.generate()
    with workflow.gradebook(course.root) as gb:
        gb.update_or_create_assignment(A, duedate=DUE)
        gb.update_or_create_assignment("02-web")  # recorded, never assigned: not exported
    return course


@pytest.fixture(scope="module")
def graded(course):
    full = nbformat.writes(answered(course))
    tampered = answered(course)
    visible = graded_cells(tampered)["q1_1-visible"]
    visible.source = "assert True  # the test, edited"
    on_time, late = (2026, 11, 1, 12, 0, 0), (2026, 11, 3, 9, 0, 0)
    archive = course.root / "downloaded" / A / "archive" / "submissions.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"doejane_1234_5678_{A}.ipynb", on_time), full)
        zf.writestr(zipfile.ZipInfo(f"doejane_late_2345_6789_{A}.ipynb", late), full)
        zf.writestr(zipfile.ZipInfo("roelee_3456_7890_01_Fundamentals-Copy1.ipynb", on_time),
                    nbformat.writes(tampered))
        zf.writestr(zipfile.ZipInfo("kimsam_4567_8901_answers.pdf", on_time), b"%PDF-1.4")
    collect(A, course.root)
    code, report = workflow.grade_and_report(A, course.root)
    assert code == 0, report
    return report


def test_nbgrader_zip_collect_takes_the_user_id(tmp_path):
    course = ScratchCourse(tmp_path, A)
    archive = course.root / "downloaded" / A / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zf:
        zf.writestr(f"doejane_1234_5678_{A}.ipynb", "{}")
        zf.writestr(f"doejane_late_2222_9999_{A}-1.ipynb", "{}")
    run_nbgrader(["zip_collect", A], course.root)
    assert sorted(p.name for p in (course.root / "submitted").iterdir()) == ["1234", "2222"]


def test_grading_reports_counts_and_tampering_without_noise(graded):
    assert graded.splitlines()[0] == f"{A}: graded 3 of 3 submissions"
    assert "3456: test cells changed (q1_1-visible edited); graded with the release's tests" in graded
    for noise in ("checksum", "SAWarning", "TCP without encryption", "| INFO]"):
        assert noise not in graded, f"{noise!r} is back in the report:\n{graded}"


def test_grades_are_right_and_the_late_penalty_applies(course, graded):
    scores = workflow.graded_students(A, course.root)
    assert scores == {"1234": FULL, "2345": 0.0, "3456": FULL}, "full marks; the late one scores zero"
    with workflow.gradebook(course.root) as gb:
        late = gb.find_submission(A, "2345")
        assert late.total_seconds_late > 0 and late.late_submission_penalty == FULL
        assert gb.find_student("2345").last_name == "doejane"


def test_feedback_names_test_cells_by_question_and_hides_the_tests(course, graded):
    workflow.feedback(A, course.root)
    html = (course.root / "feedback" / "1234" / A / f"{A}.html").read_text()
    assert ">Test cell</a>" not in html
    assert '<a href="#q1_1-visible">Question 1.1 — ' in html
    assert "BEGIN HIDDEN TESTS" not in html


def test_handback_gives_one_zip_per_student_named_for_the_lms(course, graded):
    if not (course.root / "feedback").exists():
        workflow.feedback(A, course.root)
    made = handback(A, course.root)
    assert sorted(p.name for p in made[:-1]) == [
        f"doejane_1234_5678_{A}-feedback.zip", f"doejane_late_2345_6789_{A}-feedback.zip",
        f"roelee_3456_7890_{A}-feedback.zip",
    ]
    assert zipfile.ZipFile(made[0]).namelist()[0].startswith(f"{A}-feedback/")
    assert f"doejane_1234_5678_{A}-feedback.html" in zipfile.ZipFile(made[-1]).namelist()


def test_export_has_the_assignment_only_with_a_status_for_everyone(course, graded):
    assert assigned(course.root) == [A], "02-web is recorded but nobody submitted it"
    report, canvas = export(A, course.root)
    with open(report, newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        "1234": (f"{FULL:g}", "graded"),
        "2345": ("0", f"graded (late penalty {FULL:g})"),
        "3456": (f"{FULL:g}", "graded"),
        "4567": ("", f"not gradable: 'answers.pdf' is not a notebook (.ipynb); expected {A}.ipynb"),
    }
    assert rows["2345"]["late"] == "late"
    with open(canvas, newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert ["doejane", "1234", "", "", "", f"{FULL:g}"] in lines


def test_update_brings_an_edit_of_the_solution_through_to_the_grades(course, graded):
    nb = read(course.source_notebook)
    cells = graded_cells(nb)
    cells["q1_1-visible"].metadata.nbgrader["points"] = 3
    cells["q1_2-hidden"].source = cells["q1_2-hidden"].source.replace(
        "### END HIDDEN TESTS", 'assert False, "a new hidden check"\n### END HIDDEN TESTS')
    nbformat.write(nb, course.source_notebook)

    new_full = FULL - points("q1_1-visible") + 3
    new = new_full - points("q1_2-hidden")  # 3 points for q1_1-visible, q1_2-hidden now fails
    said = workflow.update(A, course.root)
    assert "WARNING: 3 graded submissions are graded again; their grades may change." in said
    assert f"1234: {FULL:g} → {new:g}" in said and f"3456: {FULL:g} → {new:g}" in said
    scores = workflow.graded_students(A, course.root)
    assert scores["1234"] == scores["3456"] == new
    with workflow.gradebook(course.root) as gb:
        assert gb.find_assignment(A).max_score == new_full
    assert "a new hidden check" not in course.released_notebook.read_text()


@pytest.mark.parametrize(("instructor", "copies"), [(True, 0), (False, 1)])
def test_lab_makes_learner_copies_for_learners_only(monkeypatch, tmp_path, instructor, copies):
    """`make lab-instructor` must not fill my-work/ with learner copies."""
    from helpers.course import lab

    made = []
    monkeypatch.setattr(lab, "ensure_copies", lambda: made.append(1) or [])
    monkeypatch.setattr(lab, "write_settings_overrides", lambda: tmp_path)
    monkeypatch.setattr(lab, "write_page_config", lambda instructor: tmp_path)
    monkeypatch.setattr(lab, "write_server_config", lambda: tmp_path)
    monkeypatch.setattr(lab.home, "write", lambda: tmp_path)
    monkeypatch.setattr(lab.subprocess, "call", lambda *args, **kwargs: 0)
    assert lab.run(instructor=instructor) == 0
    assert len(made) == copies
