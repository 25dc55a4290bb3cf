"""Triage wrong answers written by someone who has not read the hidden tests (DESIGN §4).

A red-team session writes candidate answers to a YAML file, one entry per answer::

    - id: ttl-ignores-cname          # unique within the file
      why: caches a CNAME chain for the last record's TTL, not the shortest
      answer: q2_10-answer           # the answer cell (grade_id) it replaces
      source: |
        def resolve(...): ...

``python -m helpers.course.triage 02-web candidates.yaml`` grades every candidate alone
(one submission each, confined where bubblewrap is installed, through the course's own
grade command) in a throwaway course and prints, per candidate, the test cells it loses.
A candidate that loses nothing *escaped*: the hidden tests need strengthening. With
``--write FILE`` the caught candidates are written as catalogue entries (with their
measured ``fails``) ready to append to ``tests/mistakes/<assignment>.yaml``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from helpers.course import proofs
from helpers.course.cells import answer_cells, read
from helpers.course.grading import ScratchCourse

CANDIDATE_KEYS = {"id", "why", "answer", "source"}


def load_candidates(path: Path, answer_ids: set[str]) -> list[dict]:
    """The candidates in ``path``, checked: known keys (others, e.g. ``visible_passes``, are
    ignored), unique ids, and an ``answer`` that names an answer cell of the assignment."""
    entries = yaml.safe_load(path.read_text()) or []
    seen: set[str] = set()
    for entry in entries:
        missing = CANDIDATE_KEYS - set(entry)
        if missing:
            raise SystemExit(f"{path}: entry {entry.get('id')!r} lacks {sorted(missing)}")
        if entry["id"] in seen:
            raise SystemExit(f"{path}: id {entry['id']!r} appears twice")
        if entry["answer"] not in answer_ids:
            raise SystemExit(f"{path}: entry {entry['id']!r} answers {entry['answer']!r}, "
                             f"which is none of {sorted(answer_ids)}")
        seen.add(entry["id"])
    return entries


def triage(assignment: str, candidates_path: Path, workers: int = 2) -> list[tuple[dict, list[str]]]:
    """Grade each candidate alone; return (candidate, the test cells it lost) pairs."""
    root = Path(tempfile.mkdtemp(prefix=f"triage-{assignment}-"))
    course = ScratchCourse(root, assignment)
    course.generate()
    solution = read(course.source_notebook)
    candidates = load_candidates(candidates_path, set(answer_cells(solution)))
    course.submit("solution", solution)
    for number, entry in enumerate(candidates):
        course.submit(f"c{number:03d}", proofs.with_answer(solution, entry["answer"], entry["source"]))
    os.environ.setdefault("GRADER_CONFINE", "1" if shutil.which("bwrap") else "0")
    course.autograde(workers=workers)
    results = course.results()
    if results["solution"].lost():
        raise SystemExit(f"the solution itself lost {sorted(results['solution'].lost())}: "
                         "fix the solution or the machine before triaging")
    graded = []
    for number, entry in enumerate(candidates):
        result = results.get(f"c{number:03d}")
        graded.append((entry, sorted(result.lost()) if result else ["(not graded)"]))
    return graded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.course.triage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", help="e.g. 02-web")
    parser.add_argument("candidates", type=Path, help="the red team's YAML file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", type=Path, help="write the caught candidates as catalogue entries")
    args = parser.parse_args(argv)
    graded = triage(args.assignment, args.candidates, args.workers)
    escaped = [entry for entry, lost in graded if not lost]
    for entry, lost in graded:
        print(f"{'ESCAPED' if not lost else 'caught '}  {entry['id']}: {', '.join(lost) or 'full marks'}")
    print(f"{len(graded)} candidates, {len(escaped)} escaped")
    if args.write:
        caught = [{"id": e["id"], "why": e["why"], "answer": e["answer"], "fails": lost,
                   "source": e["source"]} for e, lost in graded if lost and lost != ["(not graded)"]]
        args.write.write_text(yaml.safe_dump(caught, sort_keys=False, allow_unicode=True, width=100))
        print(f"{len(caught)} catalogue entries written to {args.write}")
    return 1 if escaped else 0


if __name__ == "__main__":  # the grade command's workers are spawned: keep this guard
    sys.exit(main())
