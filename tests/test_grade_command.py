"""The one grading command (helpers/grader): parallel workers, crash safety, what it writes.

The slow tests build a scratch nbgrader course for 01-fundamentals and grade a mixed
batch twice (stock serial `nbgrader autograde`, then the command with two workers),
so they carry the `grading` mark like the proofs.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import time
from dataclasses import asdict

import pytest

from helpers.course import proofs
from helpers.course.grading import ScratchCourse
from helpers.grader import command, workers
from helpers.grader.progress import Progress

ASSIGNMENT = "01-fundamentals"
#: A short cell timeout keeps the runaway submission quick; both runs use the same config.
SHORT_TIMEOUT = "\nc.Execute.timeout = 15\n"  # legit cells stay well inside it under load


def scratch_course(root, names):
    """A generated scratch course for 01-fundamentals with the named proof submissions."""
    course = ScratchCourse(root, ASSIGNMENT)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(SHORT_TIMEOUT)
    course.generate()
    # A spinning runaway, as a class may hand in (the per-assignment proofs' waits instead).
    batch = {e.student: e for e in proofs.build_batch(course.source_notebook, course.released_notebook,
                                                       ASSIGNMENT, loop=proofs.SPINNING_LOOP)}
    for name in names:
        course.submit(name, batch[name].notebook)
    return course, batch


def per_cell(results):
    return {student: (r.scores, r.max_scores) for student, r in results.items()}


@pytest.fixture(scope="module")
def serial_and_parallel(tmp_path_factory):
    """The same mixed batch graded serially by stock nbgrader and by `grade` with 2 workers."""
    root = tmp_path_factory.mktemp("serial")
    course, batch = scratch_course(root, [])
    mistakes = [name for name in batch if name.startswith("mistakes-")][:3]
    names = ["solution", "untouched-release", *mistakes, "tampered-solution", "runaway-loop-then-crash"]
    for name in names:
        course.submit(name, batch[name].notebook)
    twin = course.copy(tmp_path_factory.mktemp("parallel"))
    course.autograde()
    summary = command.grade(ASSIGNMENT, twin.root, workers=2, force=True)
    return course, twin, summary, names, batch


@pytest.mark.grading
def test_parallel_grades_equal_a_serial_nbgrader_run(serial_and_parallel):
    course, twin, summary, names, batch = serial_and_parallel
    serial, parallel = course.results(), twin.results()
    assert set(serial) == set(names), "stock nbgrader graded the whole batch"
    assert per_cell(parallel) == per_cell(serial)
    assert any(r.lost() for r in serial.values()) and any(not r.lost() for r in serial.values())
    assert sorted(o.student for o in summary.graded) == sorted(names) and summary.failed == []
    assert summary.workers == 2


@pytest.mark.grading
def test_the_command_writes_what_nbgraders_commands_write(serial_and_parallel):
    _, twin, summary, names, _ = serial_and_parallel
    for student in names:
        assert (twin.root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
        assert (twin.root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
    with open(twin.root / "grades.csv", newline="") as f:
        rows = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    assert rows == {student: r.total for student, r in twin.results().items()}
    assert {o.student: o.score for o in summary.outcomes} == rows


@pytest.mark.grading
def test_a_killed_worker_loses_no_submission_and_a_rerun_grades_only_what_is_missing(tmp_path):
    names = ["solution", "untouched-release", "tampered-release", "tampered-solution"]
    course, batch = scratch_course(tmp_path, names)
    broken = course.root / "submitted" / "broken" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text("{ not a notebook")
    course.students.append("broken")
    killed = []

    def kill_first(event, pid, student):
        if event == "started" and not killed and student == "untouched-release":
            killed.append(student)
            os.kill(pid, signal.SIGKILL)

    summary = command.grade(ASSIGNMENT, course.root, workers=2, on_event=kill_first)
    assert killed == ["untouched-release"], "the test killed a worker mid-submission"
    graded = {o.student for o in summary.graded}
    assert graded == set(names), summary.report()
    assert [o.student for o in summary.failed] == ["broken"] and summary.failed[0].reason
    # nbgrader records the broken submission (with nothing graded) before it fails to read it.
    assert set(course.results()) - {"broken"} == set(names), "every submission is in the gradebook"
    assert not (course.root / "autograded" / "broken").exists()
    assert course.results()["solution"].lost() == set()

    shutil.rmtree(course.root / "autograded" / "tampered-release")
    again = command.grade(ASSIGNMENT, course.root, workers=2)
    assert [o.student for o in again.outcomes] == ["broken", "tampered-release"]
    assert sorted(again.skipped) == sorted(set(names) - {"tampered-release"})
    assert course.results()["tampered-release"].lost() == batch["tampered-release"].lost

    forced = command.grade(ASSIGNMENT, course.root, workers=1, force=True, feedback=False)
    assert len(forced.outcomes) == len(names) + 1 and forced.skipped == []


def stand_in_worker(conn, course_dir, assignment, feedback):
    """A worker without nbgrader: "grades" a student in 0.1 s; "crasher" kills its worker."""
    conn.send(("ready", os.getpid()))
    while (student := conn.recv()) is not None:
        conn.send(("started", student))
        if student == "crasher":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.1)
        conn.send(("done", asdict(workers.Outcome(student, graded=True, score=1.0, max_score=1.0))))


def waiting_worker(conn, course_dir, assignment, feedback):
    """A worker without nbgrader: "sleeper" waits 3 s (a test's timeout), others take 0.1 s;
    each outcome says which process graded it and when (reason: "pid start end")."""
    conn.send(("ready", os.getpid()))
    while (student := conn.recv()) is not None:
        conn.send(("started", student))
        start = time.monotonic()
        time.sleep(3.0 if student == "sleeper" else 0.1)
        conn.send(("done", asdict(workers.Outcome(
            student, graded=True, reason=f"{os.getpid()} {start} {time.monotonic()}"))))


def environment_worker(conn, course_dir, assignment, feedback):
    """A worker without nbgrader that reports GRADER_TEST_MARK as it sees it (in reason)."""
    conn.send(("ready", os.getpid()))
    while (student := conn.recv()) is not None:
        conn.send(("done", asdict(workers.Outcome(
            student, graded=True, reason=os.environ.get("GRADER_TEST_MARK", "")))))


@pytest.mark.parametrize("idle_cores, overlapped", [(2.0, True), (0.0, False)])
def test_a_waiting_submission_lets_another_worker_use_the_idle_core(
        tmp_path, monkeypatch, idle_cores, overlapped):
    # The machine's idle time is stood in for: under a loaded test run there may be none.
    def reading(self, now):
        self.value = idle_cores
        return False  # no new reading: no extra computing worker, only the waiting rule

    monkeypatch.setattr(workers._IdleCores, "update", reading)
    pool = workers.Pool(tmp_path, "a", 1, target=waiting_worker)
    outcomes = {o.student: o.reason.split() for o in pool.grade(["sleeper", "a", "b", "c"])}
    sleeper_end = float(outcomes["sleeper"][2])
    during = [s for s in "abc" if float(outcomes[s][2]) < sleeper_end]
    if overlapped:  # one computing worker at most, but the sleeper's does not count
        assert during == ["a", "b", "c"], "the others were graded while the sleeper waited"
        assert len({pid for pid, _, _ in outcomes.values()}) == 2
        assert len(pool.workers) == 0
    else:  # no idle core: no second worker
        assert during == []
        assert len({pid for pid, _, _ in outcomes.values()}) == 1


def quick_worker(conn, course_dir, assignment, feedback):
    """A worker without nbgrader: each submission takes 0.4 s, shorter than a waiting
    worker is noticed in; the outcome says which process graded it (reason)."""
    conn.send(("ready", os.getpid()))
    while (student := conn.recv()) is not None:
        time.sleep(0.4)
        conn.send(("done", asdict(workers.Outcome(student, graded=True, reason=str(os.getpid())))))


@pytest.mark.parametrize("idle_cores, most", [(2.0, 2), (0.0, 1)])
def test_cores_that_stay_idle_get_one_more_worker(tmp_path, monkeypatch, idle_cores, most):
    def reading(self, now):
        self.value = idle_cores
        return True

    monkeypatch.setattr(workers._IdleCores, "update", reading)
    pool = workers.Pool(tmp_path, "a", 1, target=quick_worker)
    outcomes = pool.grade([f"s{i}" for i in range(12)])
    assert all(o.graded for o in outcomes)
    assert len({o.reason for o in outcomes}) == most  # at most twice the size


def test_workers_see_the_environment_the_command_has_now(tmp_path, monkeypatch):
    # Workers fork from a server that started with an older environment (helpers/grader/preload.py).
    monkeypatch.setenv("GRADER_TEST_MARK", "first")
    pool = workers.Pool(tmp_path, "a", 1, target=environment_worker)
    assert [o.reason for o in pool.grade(["a"])] == ["first"]
    monkeypatch.setenv("GRADER_TEST_MARK", "second")
    pool = workers.Pool(tmp_path, "a", 1, target=environment_worker)
    assert [o.reason for o in pool.grade(["a"])] == ["second"]


def test_the_pool_regrades_what_a_killed_worker_held(tmp_path):
    killed = []

    def kill_b(event, pid, student):
        if event == "started" and student == "b" and not killed:
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    pool = workers.Pool(tmp_path, "a", 2, on_event=kill_b, target=stand_in_worker)
    outcomes = pool.grade(["a", "b", "c", "d", "e"])
    assert killed, "a worker was killed while it held b"
    assert [(o.student, o.graded) for o in outcomes] == [(s, True) for s in "abcde"]
    assert {o.student: o.attempts for o in outcomes}["b"] == 2
    assert pool.workers == [], "every worker is stopped at the end"


def test_a_submission_that_keeps_killing_its_worker_fails_alone(tmp_path):
    pool = workers.Pool(tmp_path, "a", 2, target=stand_in_worker)
    outcomes = {o.student: o for o in pool.grade(["a", "crasher", "b"])}
    assert outcomes["a"].graded and outcomes["b"].graded
    assert not outcomes["crasher"].graded and "died 2 times" in outcomes["crasher"].reason


def test_bad_requests_say_what_to_do(tmp_path):
    with pytest.raises(command.CommandError, match="not an nbgrader course directory"):
        command.grade(ASSIGNMENT, tmp_path)
    (tmp_path / "nbgrader_config.py").write_text("")
    with pytest.raises(command.CommandError, match="Collect them first"):
        command.grade(ASSIGNMENT, tmp_path)


def test_an_assignment_missing_from_the_gradebook_is_reported(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    notebook = tmp_path / "submitted" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    with pytest.raises(command.CommandError, match=f"generate_assignment {ASSIGNMENT}"):
        command.grade(ASSIGNMENT, tmp_path)


@pytest.mark.parametrize("text", ["1", "01", "fundamentals", "01-fundamentals", "01-fundamentals/"])
def test_steps_are_named_as_learners_name_them(text):
    assert command.resolve_step(text) == "01-fundamentals"


def test_step_ten_is_not_step_one():
    assert command.resolve_step("10") == "10a-blog"


def test_already_graded_follows_the_submissions_timestamp(tmp_path):
    submitted = tmp_path / "submitted" / "ann" / "a"
    graded = tmp_path / "autograded" / "ann" / "a"
    feedback = tmp_path / "feedback" / "ann" / "a"
    for folder in (submitted, graded, feedback):
        folder.mkdir(parents=True)
    (submitted / "a.ipynb").write_text("{}")
    assert not command.already_graded(tmp_path, "a", "ann")
    (graded / "a.ipynb").write_text("{}")
    assert not command.already_graded(tmp_path, "a", "ann"), "feedback is missing"
    assert command.already_graded(tmp_path, "a", "ann", feedback=False)
    (feedback / "a.html").write_text("")
    assert command.already_graded(tmp_path, "a", "ann")
    (submitted / "timestamp.txt").write_text("2026-01-02 10:00:00")
    (graded / "timestamp.txt").write_text("2026-01-01 10:00:00")
    assert not command.already_graded(tmp_path, "a", "ann"), "resubmitted after grading"


def test_summary_lists_failures_and_flags():
    summary = command.Summary("a", [
        workers.Outcome("ann", True, score=3, max_score=3),
        workers.Outcome("bob", False, reason="NameError: x"),
        workers.Outcome("cy", True, flags=["tampered: a test's result was changed"]),
    ], skipped=["dee"], seconds=1.5, workers=2)
    text = summary.report()
    first = "a: 2 graded, 1 failed, 1 flagged, 1 already graded in 1.5 s with 2 worker(s)"
    assert text.splitlines()[0] == first
    assert "bob: NameError: x" in text and "cy: tampered" in text


def test_failure_reason_is_the_exception_not_nbgraders_wrapper():
    log = ("[ERROR] There was an error processing assignment: x\n[ERROR] Traceback (most recent call last):\n"
           "  File \"a.py\", line 1\nnbformat.reader.NotJSONError: Notebook does not appear to be JSON\n"
           "nbgrader.converters.base.NbGraderException: Please see the error log\n")
    assert workers.failure_reason(log) == "nbformat.reader.NotJSONError: Notebook does not appear to be JSON"
    assert workers.failure_reason("[ERROR] gone wrong\n") == "gone wrong"


def test_progress_draws_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress(4, out)
    progress.advance()
    progress.advance(failed=True)
    progress.close()
    assert "\r[###############...............] grading 2/4 (1 failed)" in out.getvalue()
    assert out.getvalue().endswith("\n")


def test_progress_writes_plain_periodic_lines_to_a_log():
    out = io.StringIO()
    progress = Progress(3, out, every=3600)
    progress.advance()
    assert out.getvalue() == "", "no line before `every` seconds"
    progress.close()
    assert out.getvalue().startswith("grading 1/3 ") and "\r" not in out.getvalue()
