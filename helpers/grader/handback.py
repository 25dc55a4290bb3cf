"""Hand feedback back without JupyterHub: one zip per student, named for the LMS.

``nbgrader release_feedback`` needs nbgrader's exchange (a hub). For a class on an
LMS, :func:`handback` packs ``feedback/<student>/<assignment>/`` into
``handback/<assignment>/<name>_<user id>_<submission id>_<assignment>-feedback.zip``
(the name Canvas gave the submission, so it is clear whose it is), and puts each
student's feedback page, named the same way (``<prefix>_<assignment>-feedback.html``),
in ``handback/<assignment>-canvas.zip``: Canvas's **Re-Upload Submissions** (on the
assignment page, beside Download Submissions) takes that zip and attaches each
file to the matching student's submission as a comment.

Feedback is safe to hand out: the course's configuration removes hidden tests'
code from it (``nbgrader_config.py``).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from helpers.grader.collect import read_report


def handback(assignment: str, course: Path) -> list[Path]:
    """One zip per student with feedback for ``assignment``; returns them (combined zip last)."""
    course = Path(course)
    students = sorted(p.parent.name for p in (course / "feedback").glob(f"*/{assignment}"))
    if not students:
        raise SystemExit(
            f"No feedback for {assignment} in {course / 'feedback'}: run "
            f"`python -m helpers.course feedback {assignment}` first."
        )
    collected = read_report(course, assignment)
    out = course / "handback" / assignment
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    made, pages = [], []
    for student in students:
        prefix = (collected.get(student) or {}).get("lms_prefix") or student
        target = out / f"{prefix}_{assignment}-feedback.zip"
        folder = course / "feedback" / student / assignment
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{assignment}-feedback/{path.relative_to(folder)}")
        made.append(target)
        page = folder / f"{assignment}.html"
        if page.exists():
            pages.append((page, f"{prefix}_{assignment}-feedback.html"))
    combined = course / "handback" / f"{assignment}-canvas.zip"
    with zipfile.ZipFile(combined, "w", zipfile.ZIP_DEFLATED) as zf:
        for page, name in pages:
            zf.write(page, name)
    return [*made, combined]
