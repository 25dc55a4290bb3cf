"""The instructor's subcommands of ``python -m helpers.course`` (see the README's instructor section).

Each is one step of the workflow, run from the course folder (the repository by
default; ``--course`` names another): ``update``, ``collect``, ``autograde``,
``feedback``, ``handback``, ``export``, ``publish``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from helpers.course.steps import REPO, find_step

COMMANDS = ("update", "collect", "autograde", "feedback", "handback", "export", "publish")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the instructor subcommands to ``python -m helpers.course``'s parser."""

    def command(name: str, help_text: str, step: str = "one") -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        if step == "one":
            parser.add_argument("step", help="e.g. 01 or 01-fundamentals")
        elif step == "many":
            parser.add_argument("steps", nargs="*", help="default: each with submissions")
        parser.add_argument("--course", type=Path, default=REPO, help="default: this repository")
        return parser

    command("update", "instructors: bring an edit of solutions/ through release, gradebook and re-grading")
    collect = command("collect", "instructors: LMS zip(s) in downloaded/<step>/archive/ → submitted/")
    collect.add_argument("--zip", type=Path, nargs="+", help="zip files to read instead")
    command("autograde", "instructors: grade every submission of a step, with a short report")
    command("feedback", "instructors: feedback HTML for every graded submission (no hidden tests)")
    command("handback", "instructors: one feedback zip per student, named for the LMS")
    export = command("export", "instructors: grades/<step>.csv and the LMS's import file", step="many")
    export.add_argument("--roster", type=Path, help="the gradebook CSV your LMS exports (Canvas)")
    export.add_argument("--canvas-column", help='the assignment\'s column in Canvas, e.g. "Step 01 (1234)"')
    publish = command("publish", "instructors: build what students receive (no solutions)", step="none")
    publish.add_argument("target", type=Path, help="a new folder")
    publish.add_argument("--git", action="store_true", help="make it a git repository with one commit")


def run(args: argparse.Namespace) -> int:
    """Run one instructor subcommand; returns the exit code."""
    from helpers.grader import workflow

    course = args.course.resolve()
    if args.command == "publish":
        from helpers.grader.publish import publish

        target = publish(args.target, repo=course, git=args.git)
        print(f"Students' copy in {target}: walkthroughs, exercises, helpers; no solutions or hidden tests.")
        return 0
    if args.command == "export":
        from helpers.grader.export import assigned, export

        names = [find_step(s).slug for s in args.steps] or assigned(course)
        if not names:
            raise SystemExit("Nothing to export: no assignment has a submission yet.")
        for assignment in names:
            for path in export(assignment, course, args.roster, args.canvas_column):
                print(f"wrote {path}")
        return 0

    assignment = find_step(args.step).slug
    if args.command == "update":
        print(workflow.update(assignment, course))
    elif args.command == "collect":
        from helpers.grader.collect import collect, summary

        print(summary(collect(assignment, course, args.zip)))
    elif args.command == "autograde":
        code, report = workflow.grade_and_report(assignment, course)
        print(report)
        return code
    elif args.command == "feedback":
        said = workflow.feedback(assignment, course)
        print(said or f"feedback in {course / 'feedback'}/<student>/{assignment}/")
    elif args.command == "handback":
        from helpers.grader.handback import handback

        made = handback(assignment, course)
        print(f"{len(made) - 1} feedback zips in {made[0].parent}; all of them for Canvas's "
              f"Re-Upload Submissions: {made[-1]}")
    return 0
