"""An instructor's round trip with the LMS zip: zip_collect → autograde → export.

Uses the first assignment; the per-assignment proofs are in test_grading.py.
"""

from __future__ import annotations

import csv
import zipfile

import pytest

from helpers.course.grading import ScratchCourse, read, run_nbgrader
from helpers.course.steps import assignments

pytestmark = pytest.mark.grading


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    assignment = assignments()[0]
    course = ScratchCourse(tmp_path_factory.mktemp("lms"), assignment)
    course.generate()
    return course


def test_an_lms_zip_is_collected_and_graded(course):
    a = course.assignment
    archive = course.root / "downloaded" / a / "archive"
    archive.mkdir(parents=True)
    solution = course.source_notebook.read_text()
    released = course.released_notebook.read_text()
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zf:
        zf.writestr(f"doejane_1234_5678_{a}.ipynb", solution)
        zf.writestr(f"roelee_late_2222_9999_{a}-1.ipynb", released)  # resubmitted, late
        zf.writestr("readme.txt", "not a submission")
    run_nbgrader(["zip_collect", a, "--force"], course.root)
    for student in ("doejane", "roelee"):
        path = course.root / "submitted" / student / a / f"{a}.ipynb"
        assert path.exists(), f"zip_collect did not place {student}'s notebook at {path}"
        course.students.append(student)

    course.autograde()
    results = course.results()
    points = sum(
        float(c.metadata.nbgrader["points"])
        for c in read(course.source_notebook).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    assert results["doejane"].total == points
    assert results["roelee"].total == 0

    run_nbgrader(["export", "--to", "grades.csv"], course.root)
    with open(course.root / "grades.csv", newline="") as f:
        rows = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    assert rows == {"doejane": points, "roelee": 0.0}
