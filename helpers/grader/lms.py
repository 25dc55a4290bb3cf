"""What an LMS puts in a submissions zip, read back: who submitted which file, and when.

Canvas names each file ``<name>[_late]_<user id>_<submission id>_<uploaded name>``
(``doejane_late_1234_5678_01-fundamentals-1.ipynb``). The name part is the student's
name squashed to letters, so two students called Jane Doe are both ``doejane``; the
**user id** is what tells them apart, and it is what this course uses as the nbgrader
student id. The uploaded name is whatever the student's browser sent, so the usual
variants (``01-fundamentals (1).ipynb``, ``-Copy1``, ``01_fundamentals.ipynb``, other
case, Canvas's own ``-1`` for a resubmission) are recognised as the assignment's
notebook.

Canvas's gradebook CSV (Grades → Export) has the columns in :data:`CANVAS_COLUMNS`
followed by one column per assignment; the export writes that shape so Grades →
Import takes it back.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

#: The identity columns of Canvas's gradebook CSV, in Canvas's order.
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]

_CANVAS_NAME = re.compile(
    r"^(?P<name>[^_]+?)(?P<late>_late)?_(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<upload>.+)$",
    re.IGNORECASE,
)
# What browsers, Jupyter and LMSs add to a file name: " (1)", "-Copy1", Canvas's "-1".
_COPY_SUFFIX = re.compile(r"(?:\s*\(\d+\)|-copy\d*|\s+copy\d*|-\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class LmsFile:
    """One file from an LMS zip: whose it is, whether it was late, what they uploaded."""

    student_id: str  # the LMS user id
    name: str  # the LMS's squashed name, e.g. "doejane"
    late: bool
    submission_id: str
    upload: str  # the file name as the student uploaded it (after the LMS's prefix)

    @property
    def prefix(self) -> str:
        """The LMS's prefix for this student, reused to name the feedback handed back."""
        return f"{self.name}{'_late' if self.late else ''}_{self.student_id}_{self.submission_id}"


def parse_canvas_name(filename: str) -> LmsFile | None:
    """Read a Canvas submission file name; None if it is not one."""
    match = _CANVAS_NAME.match(Path(filename).name)
    if not match:
        return None
    return LmsFile(
        student_id=match["user_id"],
        name=match["name"],
        late=bool(match["late"]),
        submission_id=match["submission_id"],
        upload=match["upload"],
    )


def notebook_stem(upload: str) -> str:
    """A notebook file name without what browsers and LMSs add: the name it was given.

    ``01-Fundamentals (1).ipynb``, ``01_fundamentals-Copy1.ipynb`` and
    ``01-fundamentals-2.ipynb`` all give ``01-fundamentals``.
    """
    stem = upload[: -len(".ipynb")] if upload.lower().endswith(".ipynb") else upload
    stem = stem.strip()
    while True:
        shorter = _COPY_SUFFIX.sub("", stem).strip()
        if shorter == stem:
            break
        stem = shorter
    return re.sub(r"[\s_]+", "-", stem).lower()


def why_not_gradable(upload: str, assignment: str) -> str | None:
    """None if ``upload`` is the assignment's notebook (under any usual variant), else why not."""
    if not upload.lower().endswith(".ipynb"):
        return f"{upload!r} is not a notebook (.ipynb); expected {assignment}.ipynb"
    # (An assignment named like a copy, `hw-1`, is compared in the same reduced form.)
    if notebook_stem(upload) not in {assignment.lower(), notebook_stem(f"{assignment}.ipynb")}:
        return f"{upload!r} is not this assignment's notebook; expected {assignment}.ipynb"
    return None


def resubmission_number(upload: str) -> int:
    """Canvas's ``-N`` (or a browser's `` (N)``) on a re-uploaded file; 0 for the first upload."""
    stem = upload[: -len(".ipynb")] if upload.lower().endswith(".ipynb") else upload
    match = re.search(r"(?:-(\d+)|\s*\((\d+)\))$", stem)
    return int(match[1] or match[2]) if match else 0


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """A Canvas gradebook export (or any CSV with its ``Student`` and ``ID`` columns), by ID.

    Canvas puts a "Points Possible" row (and sometimes a muted-assignments row) under
    the header; rows without a numeric ID are skipped.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("Student", "ID") if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(
                f"{path} has no {', '.join(missing)} column: give the gradebook CSV Canvas exports "
                f"(Grades → Export), whose first columns are {', '.join(CANVAS_COLUMNS)}."
            )
        return {
            row["ID"].strip(): {c: (row.get(c) or "").strip() for c in CANVAS_COLUMNS}
            for row in reader
            if (row.get("ID") or "").strip().isdigit()
        }
