"""Collect an LMS's submissions zip into nbgrader's ``submitted/`` folder, saying who is where.

Replaces ``nbgrader zip_collect`` for Canvas downloads, which aborts the whole batch on
two students with the same name, drops the late flag and gives misnamed notebooks a
silent zero. Here:

- the student id is the LMS user id (``doejane_1234_5678_...`` → ``1234``), so two
  Jane Does are two students; their LMS names go into the gradebook;
- ``01-fundamentals (1).ipynb``, ``-Copy1``, ``01_fundamentals.ipynb`` and other case
  are recognised (:func:`helpers.grader.lms.why_not_gradable`); a student whose
  upload is not gradable gets a line saying why, in the report and in the export;
- each submission gets ``timestamp.txt`` (the zip entry's time), which nbgrader's
  late penalties read, and the LMS's late flag is kept in the report;
- running it again replaces what the last run collected (no ``--force``).

The report is ``lms/<assignment>/collected.csv``; :mod:`helpers.grader.export` and
:mod:`helpers.grader.handback` read it.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from helpers.grader.lms import LmsFile, parse_canvas_name, resubmission_number, why_not_gradable


@dataclass
class Collected:
    """One student's outcome: ``status`` is ``collected`` or ``not gradable: <why>``."""

    student_id: str
    name: str
    late: str  # "late" when the LMS flagged the submission, else ""
    timestamp: str
    lms_prefix: str
    upload: str
    status: str


def report_path(course: Path, assignment: str) -> Path:
    return Path(course) / "lms" / assignment / "collected.csv"


def archives(course: Path, assignment: str) -> list[Path]:
    """The zips in ``downloaded/<assignment>/archive/`` (where nbgrader's zip_collect looks too)."""
    folder = Path(course) / "downloaded" / assignment / "archive"
    found = sorted(folder.glob("*.zip"))
    if not found:
        raise SystemExit(
            f"No zip in {folder}. Download the submissions from your LMS (Canvas: Assignments → "
            f"Download Submissions) and put the zip there."
        )
    return found


def _late(lms_file: LmsFile) -> str:
    return "late" if lms_file.late else ""


def _problem_with(data: bytes) -> str | None:
    """None if ``data`` is a notebook nbformat can read, else what is wrong with it."""
    import nbformat

    try:
        nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any reason a file is not a notebook is reported
        return f"the file is not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})"
    return None


def collect(assignment: str, course: Path, zips: list[Path] | None = None) -> list[Collected]:
    """Place every student's notebook under ``submitted/<user id>/<assignment>/``; report each.

    Also returns (and writes to the report) one ``not gradable`` row per student whose
    files held no usable notebook, and ``ignored`` rows for files the LMS did not name.
    """
    course = Path(course)
    by_student: dict[str, list[tuple[LmsFile, bytes, datetime]]] = {}
    outcomes: list[Collected] = []
    for archive in zips or archives(course, assignment):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                lms_file = parse_canvas_name(info.filename)
                if lms_file is None:
                    outcomes.append(Collected("", "", "", "", "", info.filename,
                                              "ignored: not named <name>_<user id>_<submission id>_<file>"))
                    continue
                when = datetime(*info.date_time)
                by_student.setdefault(lms_file.student_id, []).append((lms_file, zf.read(info), when))

    for student_id, files in sorted(by_student.items()):
        reasons, usable = [], []
        for lms_file, data, when in files:
            why = why_not_gradable(lms_file.upload, assignment) or _problem_with(data)
            if why:
                reasons.append(why)
            else:
                usable.append((lms_file, data, when))
        first = files[0][0]
        if not usable:
            outcomes.append(Collected(student_id, first.name, _late(first), "", first.prefix,
                                      "; ".join(f.upload for f, _, _ in files),
                                      "not gradable: " + "; ".join(reasons)))
            continue
        # The latest upload counts: Canvas's resubmission number, then the zip entry's time.
        lms_file, data, when = max(usable, key=lambda u: (resubmission_number(u[0].upload), u[2]))
        folder = course / "submitted" / student_id / assignment
        if folder.exists():
            shutil.rmtree(folder)  # a second run replaces the first (no --force needed)
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes(data)
        # nbgrader reads the submission time here for late penalties (a time without zone is UTC).
        (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f"))
        outcomes.append(Collected(student_id, lms_file.name, _late(lms_file), when.isoformat(sep=" "),
                                  lms_file.prefix, lms_file.upload, "collected"))

    path = report_path(course, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(Collected)])
        writer.writeheader()
        writer.writerows(asdict(o) for o in outcomes)
    _record_students(course, [o for o in outcomes if o.student_id])
    return outcomes


def _record_students(course: Path, outcomes: list[Collected]) -> None:
    """Put each student's LMS name in the gradebook, so the formgrader shows who ``1234`` is."""
    from helpers.grader.workflow import gradebook

    with gradebook(course) as gb:
        for o in outcomes:
            gb.update_or_create_student(o.student_id, last_name=o.name)


def read_report(course: Path, assignment: str) -> dict[str, dict[str, str]]:
    """``lms/<assignment>/collected.csv`` by student id (empty if nothing was collected)."""
    path = report_path(course, assignment)
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f) if row["student_id"]}


def summary(outcomes: list[Collected]) -> str:
    """What an instructor reads after collecting: counts, then every student who needs a look."""
    collected = [o for o in outcomes if o.status == "collected"]
    plural = "" if len(collected) == 1 else "s"
    lines = [f"collected {len(collected)} submission{plural} ({sum(bool(o.late) for o in collected)} late)"]
    names: dict[str, list[str]] = {}
    for o in outcomes:
        if o.student_id:
            names.setdefault(o.name, []).append(o.student_id)
    for name, ids in sorted(names.items()):
        if len(ids) > 1:
            lines.append(f"  same LMS name {name!r} for user ids {', '.join(ids)}: both collected, "
                         "graded as separate students")
    for o in outcomes:
        if o.status != "collected":
            who = f"{o.name} ({o.student_id})" if o.student_id else o.upload
            lines.append(f"  {who}: {o.status}")
    return "\n".join(lines)

