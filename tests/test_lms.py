"""LMS identity and file names: Canvas user ids, misnamed uploads, rosters, collect's report."""

from __future__ import annotations

import shutil
import zipfile

import pytest

from helpers.course.steps import REPO
from helpers.grader.collect import collect, read_report, summary
from helpers.grader.export import export, flagged_students
from helpers.grader.lms import parse_canvas_name, read_roster, resubmission_number, why_not_gradable

A = "01-fundamentals"


def test_canvas_name_gives_the_user_id_and_the_late_flag():
    f = parse_canvas_name(f"submissions/doejane_late_1234_5678_{A}-1.ipynb")
    assert (f.student_id, f.name, f.late, f.submission_id) == ("1234", "doejane", True, "5678")
    assert f.upload == f"{A}-1.ipynb"
    assert f.prefix == "doejane_late_1234_5678"
    assert parse_canvas_name(f"doejane_1234_5678_{A}.ipynb").late is False
    assert parse_canvas_name("readme.txt") is None


@pytest.mark.parametrize("upload", [
    f"{A}.ipynb", f"{A} (1).ipynb", f"{A}-Copy1.ipynb", f"{A}-1.ipynb", "01_fundamentals.ipynb",
    "01-Fundamentals.ipynb", "01_Fundamentals-Copy2 (3).ipynb",
])
def test_the_usual_variants_of_the_notebook_name_are_recognised(upload):
    assert why_not_gradable(upload, A) is None


@pytest.mark.parametrize(("upload", "reason"), [
    ("answers.pdf", "is not a notebook"),
    ("02-web.ipynb", "is not this assignment's notebook"),
    ("Untitled.ipynb", "is not this assignment's notebook"),
])
def test_anything_else_says_why_it_is_not_gradable(upload, reason):
    why = why_not_gradable(upload, A)
    assert reason in why and f"expected {A}.ipynb" in why


def test_resubmission_numbers():
    assert [resubmission_number(n) for n in (f"{A}.ipynb", f"{A}-2.ipynb", f"{A} (3).ipynb")] == [0, 2, 3]


def test_roster_is_read_from_a_canvas_export(tmp_path):
    roster = tmp_path / "canvas.csv"
    roster.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Step 01 (77)\n"
        "    Points Possible,,,,,20\n"
        '"Doe, Jane",1234,s1,jdoe,A,\n'
    )
    assert read_roster(roster) == {"1234": {"Student": "Doe, Jane", "ID": "1234", "SIS User ID": "s1",
                                            "SIS Login ID": "jdoe", "Section": "A"}}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,id\nJane,1\n")
    with pytest.raises(SystemExit, match="Student, ID column"):
        read_roster(bad)


@pytest.mark.parametrize(("name", "text"), [
    ("flagged.txt", "1234  # edited a test cell\n\n2345\n"),
    ("flagged.csv", "student_id,why\n1234,x\n2345,y\n"),
    ("flagged.json", '{"1234": "x", "2345": "y"}'),
])
def test_flagged_students_are_read_in_any_of_the_formats(tmp_path, name, text):
    assert flagged_students(tmp_path) == set()
    (tmp_path / name).write_text(text)
    assert flagged_students(tmp_path) == {"1234", "2345"}


@pytest.fixture
def course(tmp_path):
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    return tmp_path


def _zip(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, (when, data) in files.items():
            zf.writestr(zipfile.ZipInfo(name, when), data)
    return path


def test_collect_keeps_both_jane_does_and_reports_every_student(course):
    notebook = (REPO / "exercises" / A / f"{A}.ipynb").read_text()
    day = (2026, 11, 1, 10, 0, 0)
    _zip(course / "downloaded" / A / "archive" / "submissions.zip", {
        f"doejane_1234_5678_{A}.ipynb": (day, notebook),
        f"doejane_late_2345_6789_{A} (1).ipynb": ((2026, 11, 3, 8, 30, 0), notebook),
        f"roelee_3456_7890_{A}.ipynb": (day, notebook),  # first upload ...
        f"roelee_3456_7891_{A}-1.ipynb": ((2026, 11, 2, 9, 0, 0), notebook.replace("YOUR", "MY")),
        "kimsam_4567_8901_answers.pdf": (day, b"%PDF-1.4"),
        f"parkal_5678_9012_{A}.ipynb": (day, "{not json"),
        "readme.txt": (day, "not from the LMS"),
    })
    outcomes = collect(A, course)
    for _ in range(2):  # a second run replaces the first, without --force
        report = read_report(course, A)
        assert {s: r["status"].split(":")[0] for s, r in report.items()} == {
            "1234": "collected", "2345": "collected", "3456": "collected",
            "4567": "not gradable", "5678": "not gradable",
        }
        outcomes = collect(A, course)
    assert report["2345"]["late"] == "late" and report["1234"]["late"] == ""
    assert "answers.pdf' is not a notebook" in report["4567"]["status"]
    assert "not a readable notebook" in report["5678"]["status"]
    submitted = course / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["1234", "2345", "3456"]
    assert (submitted / "2345" / A / "timestamp.txt").read_text().startswith("2026-11-03 08:30:00")
    assert "MY CODE HERE" in (submitted / "3456" / A / f"{A}.ipynb").read_text(), "the resubmission counts"
    said = summary(outcomes)
    assert "same LMS name 'doejane' for user ids 1234, 2345" in said
    assert "kimsam (4567): not gradable" in said and "readme.txt: ignored" in said

    # Before grading, the export already shows who is not gradable and who has no grade yet;
    # a roster adds who did not submit and gives Canvas its columns back.
    roster = course / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n"
                      '"Doe, Jane",1234,s1,jdoe,A\n"Absent, Al",9999,s9,aal,B\n')
    (course / "flagged.txt").write_text("2345\n")
    report_csv, canvas_csv = export(A, course, roster, canvas_column="Step 01 (77)")
    lines = report_csv.read_text().splitlines()
    assert lines[0] == "student_id,name,score,max_score,late,status,flagged"
    rows = {line.split(",")[0]: line for line in lines[1:]}
    assert rows["9999"].endswith("not submitted,")
    assert "not gradable: " in rows["4567"] and ",," in rows["4567"], "no score, never a silent zero"
    assert "not graded: autograde failed" in rows["1234"]
    assert rows["2345"].endswith(",yes")
    canvas = canvas_csv.read_text().splitlines()
    assert canvas[0] == "Student,ID,SIS User ID,SIS Login ID,Section,Step 01 (77)"
    assert '"Doe, Jane",1234,s1,jdoe,A,' in canvas
