"""``python -m helpers.course <command>``: the course's commands (the Makefile wraps them).

Every make target is one of these, so learners without make (e.g. on Windows) run
the same thing: ``.venv\\Scripts\\python -m helpers.course lab``.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="start JupyterLab on the curriculum")
    lab.add_argument("--instructor", action="store_true", help="show nbgrader's instructor panels")
    check = sub.add_parser("check", help="check your exercises in my-work/ and show progress")
    check.add_argument("steps", nargs="*", help="steps to check, e.g. 01 (default: all)")
    reset = sub.add_parser("reset", help="a fresh copy of one exercise (the old one is kept)")
    reset.add_argument("step", help="e.g. 1, 01, fundamentals or 01-fundamentals")
    reset.add_argument("--walkthrough", action="store_true",
                       help="a pristine copy of the step's walkthrough instead of its exercises")
    execute = sub.add_parser("execute", help="re-run walkthroughs in place (maintainers)")
    execute.add_argument("steps", nargs="*", help="e.g. 01 (default: all)")
    release = sub.add_parser("release", help="regenerate exercises/ from solutions/ (maintainers)")
    release.add_argument("steps", nargs="*", help="e.g. 01-fundamentals (default: all)")
    release.add_argument("--check", action="store_true",
                         help="compare exercises/ with a fresh release instead of replacing it")
    bench = sub.add_parser("bench", help="time walkthroughs, autograding and the test suite")
    bench.add_argument("--no-suite", action="store_true", help="skip timing the whole test suite")
    bench.add_argument("--grading-only", action="store_true",
                       help="only stock nbgrader vs the grade command (and the killed worker)")
    bench.add_argument("--walkthroughs", nargs="*", metavar="STEP",
                       help="only time walkthroughs (these steps, or all when none is named)")
    bench.add_argument("--repeat", type=int, default=3,
                       help="runs per walkthrough; the median is reported (default 3)")
    grade = sub.add_parser("grade", help="instructors: grade a step's submissions in submitted/")
    grade.add_argument("step", help="e.g. 01, fundamentals or 01-fundamentals")
    grade.add_argument("--course-dir", help="the nbgrader course directory (default: this repository)")
    grade.add_argument("--workers", type=int, help="grading processes (default: one per CPU core)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded")
    grade.add_argument("--no-feedback", action="store_true", help="skip writing feedback/")

    from helpers.grader import cli as instructor  # update, collect, autograde, feedback, handback, ...

    instructor.add_parsers(sub)

    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return run_command(args, extra)
    except SystemExit as stop:  # the learner commands' refusals say why and what to do
        if not hasattr(stop, "message"):
            raise
        print(stop.message, file=sys.stderr)
        return stop.code


def run_command(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the parsed command; returns its exit code."""
    if args.command == "lab":
        from helpers.course import lab as lab_command

        return lab_command.run(instructor=args.instructor, extra_args=extra)
    if args.command == "check":
        from helpers.course import selfcheck

        return selfcheck.run(args.steps)
    if args.command == "reset":
        from helpers.course import workspace
        from helpers.course.steps import find_step

        step = find_step(args.step)
        reset_copy = workspace.reset_walkthrough if args.walkthrough else workspace.reset
        copy, backup = reset_copy(step)
        if backup:
            print(f"Your previous copy is kept as {workspace.relative(backup)}")
        print(f"Fresh copy: {workspace.relative(copy)}")
        return 0
    if args.command == "execute":
        from helpers.course.execute import execute as run_notebook
        from helpers.course.execute import select

        for path in select(args.steps):
            print(f"{path.name}: {run_notebook(path):.1f} s")
        return 0
    if args.command == "release":
        from helpers.course.release import FIX, stale
        from helpers.course.release import release as release_all
        from helpers.course.steps import assignments, find_step

        # `make release STEP=05` passes a prefix: resolve it as `execute` and `reset` do.
        slugs = [find_step(step).slug for step in args.steps]
        if args.check:
            differing = {a: stale(a) for a in slugs or assignments()}
            for assignment, files in differing.items():
                print(f"exercises/{assignment}/: " + (f"differs in {files}" if files else "current"))
            if any(differing.values()):
                print(FIX)
                return 1
            return 0
        for assignment in release_all(slugs or None):
            print(f"released exercises/{assignment}/")
        return 0
    from helpers.grader import cli as instructor

    if args.command in instructor.COMMANDS:
        return instructor.run(args)
    if args.command == "bench":
        from helpers.course import bench as bench_command

        return bench_command.run(suite=not args.no_suite, grading_only=args.grading_only,
                                 walkthroughs_only=args.walkthroughs, repeat=args.repeat)
    if args.command == "grade":
        from helpers.grader import command as grade_command

        return grade_command.run(args.step, args.course_dir, args.workers, args.force,
                                 feedback=not args.no_feedback)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
