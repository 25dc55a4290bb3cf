"""Grades out: per assignment, a report for the instructor and a file the LMS imports.

``nbgrader export`` writes one row per student for every assignment the gradebook
knows, assigned or not (0/20 for a step nobody was given), and cannot tell an
untouched notebook from one that never reached the grader. Here, per assignment:

- ``grades/<assignment>.csv``: student id, name, score, max score, late, **status**
  (``graded``, ``not gradable: <why>``, ``not graded: autograde failed``, ``not
  submitted``) and **flagged** (the grading system's list of suspicious submissions,
  when it wrote one);
- ``grades/<assignment>-canvas.csv``: Canvas's gradebook columns (Student, ID, SIS
  User ID, SIS Login ID, Section, then the assignment), the score left blank for
  anyone not graded, so no one gets a silent zero. Grades → Import in Canvas.

With no assignment named, every assignment that has a submission is exported, and
only those.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from helpers.grader.collect import read_report
from helpers.grader.lms import CANVAS_COLUMNS, read_roster
from helpers.grader.workflow import final_score, gradebook, submitted_students

REPORT_COLUMNS = ["student_id", "name", "score", "max_score", "late", "status", "flagged"]
#: Where the grading system lists flagged (e.g. tampered, confined-run violations) students.
FLAGGED_FILES = ["flagged.txt", "flagged.csv", "flagged.json"]


def flagged_students(course: Path) -> set[str]:
    """Student ids the grading system flagged, from the first of :data:`FLAGGED_FILES` found.

    Accepts one id a line (``#`` comments allowed), a CSV with a ``student_id`` (or
    ``student``) column, or JSON: a list of ids or an object keyed by id.
    """
    for name in FLAGGED_FILES:
        path = Path(course) / name
        if not path.exists():
            continue
        text = path.read_text()
        if path.suffix == ".json":
            data = json.loads(text or "[]")
            return {str(s) for s in data}
        if path.suffix == ".csv":
            rows = list(csv.DictReader(text.splitlines()))
            key = "student_id" if rows and "student_id" in rows[0] else "student"
            return {r[key].strip() for r in rows if r.get(key)}
        return {line.split("#")[0].strip() for line in text.splitlines()} - {""}
    return set()


def assigned(course: Path) -> list[str]:
    """Assignments with at least one submission (collected, or in the gradebook)."""
    from nbgrader.api import MissingEntry

    names = {p.parent.name for p in (Path(course) / "submitted").glob("*/*/*.ipynb")}
    with gradebook(course) as gb:
        for a in gb.assignments:
            try:
                if gb.assignment_submissions(a.name):
                    names.add(a.name)
            except MissingEntry:
                continue
    return sorted(names)


def rows(assignment: str, course: Path, roster: dict[str, dict[str, str]] | None = None) -> list[dict]:
    """One row per student of ``assignment`` (see :data:`REPORT_COLUMNS`)."""
    from nbgrader.api import MissingEntry

    course = Path(course)
    collected = read_report(course, assignment)
    submitted = set(submitted_students(assignment, course))
    from helpers.grader.tamper import read_flags  # the tamper guard's flags/<assignment>/...

    flagged = flagged_students(course) | {f.student for f in read_flags(course, assignment)}
    with gradebook(course) as gb:
        try:
            max_score = float(gb.find_assignment(assignment).max_score)
            graded = {s.student.id: s for s in gb.assignment_submissions(assignment)}
        except MissingEntry:
            max_score, graded = 0.0, {}
        names = {s.id: " ".join(p for p in (s.first_name, s.last_name) if p) for s in gb.students}
        ids = sorted(set(roster or {}) | set(collected) | submitted | set(graded))
        out = []
        for sid in ids:
            row = {"student_id": sid, "max_score": f"{max_score:g}"}
            row["flagged"] = "yes" if sid in flagged else ""
            row["name"] = (roster or {}).get(sid, {}).get("Student") or names.get(sid) or ""
            row["late"] = (collected.get(sid) or {}).get("late", "")
            if sid in graded:
                sub = graded[sid]
                row.update(score=f"{final_score(sub):g}", status="graded")
                if float(sub.late_submission_penalty or 0):
                    row["status"] = f"graded (late penalty {float(sub.late_submission_penalty):g})"
            elif sid in collected and collected[sid]["status"] != "collected":
                row.update(score="", status=collected[sid]["status"])
            elif sid in submitted:
                row.update(score="", status="not graded: autograde failed (run grade again, read its report)")
            else:
                row.update(score="", status="not submitted")
            out.append(row)
    return out


def export(assignment: str, course: Path, roster_csv: Path | None = None,
           canvas_column: str | None = None) -> tuple[Path, Path]:
    """Write ``grades/<assignment>.csv`` and ``grades/<assignment>-canvas.csv``; return both paths."""
    course = Path(course)
    roster = read_roster(roster_csv) if roster_csv else None
    table = rows(assignment, course, roster)
    folder = course / "grades"
    folder.mkdir(exist_ok=True)
    report = folder / f"{assignment}.csv"
    with open(report, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    canvas = folder / f"{assignment}-canvas.csv"
    column = canvas_column or assignment
    with open(canvas, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*CANVAS_COLUMNS, column])
        for row in table:
            known = (roster or {}).get(row["student_id"], {})
            writer.writerow([
                known.get("Student") or row["name"], row["student_id"], known.get("SIS User ID", ""),
                known.get("SIS Login ID", ""), known.get("Section", ""), row["score"],
            ])
    return report, canvas
