"""The learner's workspace (my-work/) and self-check (`make check`).

Each test points the step registry at a temporary my-work/ folder, so a real
learner's copies in this checkout are never touched.
"""

from __future__ import annotations

import copy
import json

import nbformat
import pytest

from helpers.course import selfcheck, steps, workspace
from helpers.course.cells import answer_cells, graded_cells, read

BUILT = [s for s in steps.STEPS if s.built]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """An empty my-work/ for this test."""
    monkeypatch.setattr(steps, "WORK", tmp_path / "my-work")
    return tmp_path / "my-work"


@pytest.fixture
def step(work):
    return BUILT[0]


def solved(step):
    """The learner's copy with every answer taken from the solution."""
    nb = read(step.exercise)
    solution = answer_cells(read(step.solution))
    for grade_id, cell in answer_cells(nb).items():
        cell.source = solution[grade_id].source
    return nb


def test_copies_are_created_once_and_never_overwritten(step):
    created = workspace.ensure_copies()
    assert step.work_copy in created
    step.work_copy.write_text(step.work_copy.read_text().replace("YOUR CODE HERE", "my answer"))
    mine = step.work_copy.read_bytes()
    assert workspace.ensure_copies() == []
    assert step.work_copy.read_bytes() == mine


def test_reset_keeps_the_old_copy_as_a_backup(step, work):
    workspace.ensure_copies()
    step.work_copy.write_text("my unfinished work")
    fresh, backup = workspace.reset(step)
    assert backup is not None and backup.read_text() == "my unfinished work"
    assert backup.parent == work / "backups", "backups are out of the way of the live copy"
    assert backup.name.startswith(f"{step.slug}-20")
    assert read(fresh).cells == read(step.exercise).cells
    _, second_backup = workspace.reset(step)
    assert second_backup != backup and backup.exists(), "a second reset never overwrites a backup"


def test_untouched_copy_is_not_started_and_keeps_its_points_in_the_total(step, capsys):
    workspace.ensure_copies()
    report = selfcheck.check_step(step)
    assert report.problem == "" and report.not_started
    assert report.earned == 0 and report.available > 0
    assert report.passing == 0 and report.exercises >= 5
    table = selfcheck.format_table([report])
    assert "not started" in table and "✗" not in table, "no list of failures for an untouched step"


def test_solved_copy_earns_every_visible_point(step):
    step.work_copy.parent.mkdir(parents=True)
    nbformat.write(solved(step), step.work_copy)
    report = selfcheck.check_step(step)
    assert report.problem == "" and report.failing == []
    assert report.earned == report.available > 0
    assert report.passing == report.exercises


def test_edited_test_cells_do_not_count(step):
    nb = read(step.exercise)
    for cell in graded_cells(nb).values():
        cell.source = "pass"
    next(iter(answer_cells(nb).values())).source = "pass  # touched, so the step runs"
    step.work_copy.parent.mkdir(parents=True)
    nbformat.write(nb, step.work_copy)
    before = step.work_copy.read_bytes()
    report = selfcheck.check_step(step)
    assert report.earned == 0, "tests run as released, not as edited"
    assert step.work_copy.read_bytes() == before, "the learner's file is never written"


def test_hidden_only_cells_are_not_counted_as_visible(step):
    released = graded_cells(read(step.exercise))
    hidden_only = [g for g, c in released.items() if not selfcheck.has_visible_tests(c)]
    assert hidden_only, "the release has test cells whose tests are all hidden"
    assert all(selfcheck.has_visible_tests(released[g]) for g in released if g not in hidden_only)


def test_missing_copy_says_how_to_get_one(step):
    report = selfcheck.check_step(step)
    assert "make lab" in report.problem and not report.unusable


def test_invalid_json_says_where_and_is_kept(step):
    step.work_copy.parent.mkdir(parents=True)
    broken = '{\n "cells": [\n  {"cell_type": "code" "source": ""}\n ]\n}\n'
    step.work_copy.write_text(broken)
    report = selfcheck.check_step(step)
    assert report.unusable
    assert "line 3, column 24" in report.problem and "Open With > Editor" in report.problem
    assert "make reset" not in report.problem, "the advice is how to find the mistake, not a reset"
    assert step.work_copy.read_text() == broken
    assert report.available > 0, "an unreadable step still counts in the total"
    assert "unreadable" in selfcheck.format_table([report])


def test_deleted_graded_cells_are_named(step):
    nb = read(step.exercise)
    victim = next(iter(graded_cells(nb)))
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != victim]
    step.work_copy.parent.mkdir(parents=True)
    nbformat.write(nb, step.work_copy)
    report = selfcheck.check_step(step)
    assert report.unusable and victim in report.problem and "make reset" in report.problem


def test_progress_table_lists_all_ten_steps(step, capsys):
    assert selfcheck.run([]) == 0
    out = capsys.readouterr().out
    for s in steps.STEPS:
        assert s.slug in out
    assert "coming: no exercises yet" in out or len(BUILT) == len(steps.STEPS)
    total = sum(r.available for r in (selfcheck.check_step(s) for s in BUILT))
    assert f"0/{total:g}" in next(line for line in out.splitlines() if line.startswith("total"))


def test_an_unusable_copy_is_reported_without_failing_the_command(step, capsys):
    step.work_copy.parent.mkdir(parents=True)
    step.work_copy.write_text(json.dumps({"not": "a notebook"}))
    assert selfcheck.run([step.number]) == 0, "a non-zero exit would add make's own error line"
    assert "make reset" in capsys.readouterr().out


def test_failing_tests_are_named_by_question_and_say_why(step, capfd):
    nb = solved(step)
    answers = list(answer_cells(nb).values())
    answers[0].source = answers[0].source.replace("return", "return None and", 1)
    answers[1].source = "def broken(:\n    pass\n"
    step.work_copy.parent.mkdir(parents=True)
    nbformat.write(nb, step.work_copy)
    report = selfcheck.check_step(step)
    first, second = report.questions[0], report.questions[1]
    assert first.heading.startswith("Question 1.1 — ") and first.status == "failed"
    assert any("expected" in m and "got None" in m for m in first.messages), first.messages
    assert second.status == "failed"
    assert any("SyntaxError" in m and "line 1 of the cell" in m for m in second.messages)
    assert all(q.status == "passed" for q in report.questions[2:])
    table = selfcheck.format_table([report])
    assert "✗ Question 1.1 — " in table and "q1_1" not in table
    assert "TCP" not in capfd.readouterr().err, "no ipykernel transport warning"


def test_a_copy_that_crashes_its_kernel_is_still_reported(step):
    nb = solved(step)
    first = next(iter(answer_cells(nb).values()))
    first.source = "import os\nos._exit(1)"
    step.work_copy.parent.mkdir(parents=True)
    nbformat.write(copy.deepcopy(nb), step.work_copy)
    report = selfcheck.check_step(step)
    assert report.problem == "" and report.earned == 0 and report.available > 0


# Release-time test cells (helpers/grader/release_plugins.py, run by `make release`).

def test_visible_tests_end_with_a_check_mark_line():
    from helpers.grader.release_plugins import learner_test_source

    source = (
        '"""f: the example."""\nassert f(1) == 2\n'
        "### BEGIN HIDDEN TESTS\nassert f(0) == 0\n### END HIDDEN TESTS\n"
    )
    released = learner_test_source(source)
    lines = released.splitlines()
    assert lines[-1] == "print('✓ f: the example.')"
    assert "\n".join(line for line in lines[:-1] if "🔒" not in line) == source.rstrip("\n")


def test_hidden_only_test_cells_show_no_output_and_say_when_they_run():
    from helpers.grader.release_plugins import HIDDEN, learner_test_source

    source = '"""f: edge cases."""\n### BEGIN HIDDEN TESTS\nassert f(0) == 0\n### END HIDDEN TESTS\n'
    released = learner_test_source(source)
    assert released.startswith("# Hidden tests (they run when your work is graded): f: edge cases.\n")
    assert "assert f(0) == 0" in released, "the grader's copy keeps the hidden tests"
    visible_part = HIDDEN.sub("", released)
    assert visible_part.strip().startswith("#") and '"""' not in visible_part, "no Out[…] docstring"
    assert not selfcheck.has_visible_tests(nbformat.v4.new_code_cell(visible_part))


@pytest.mark.parametrize("step", BUILT, ids=lambda s: s.slug)
def test_released_test_cells_are_learner_friendly(step):
    for grade_id, cell in graded_cells(read(step.exercise)).items():
        if selfcheck.has_visible_tests(cell):
            assert cell.source.rstrip().splitlines()[-1].startswith(("print('✓ ", 'print("✓ ')), grade_id
        else:
            assert cell.source.startswith("# Hidden tests"), grade_id


def test_locked_test_cells_say_so_on_their_second_line():
    from helpers.grader.release_plugins import LOCK_NOTE, learner_test_source

    for source in ('"""f: the example."""\nassert f(1) == 2\n',
                   '"""f: edge cases."""\n### BEGIN HIDDEN TESTS\nassert f(0) == 0\n### END HIDDEN TESTS\n'):
        assert learner_test_source(source).splitlines()[1] == LOCK_NOTE
    assert LOCK_NOTE.startswith("# ") and "locked" in LOCK_NOTE.lower() and "graded" in LOCK_NOTE


@pytest.mark.parametrize("step", BUILT, ids=lambda s: s.slug)
def test_released_locked_cells_carry_the_lock_notice(step):
    from helpers.grader.release_plugins import LOCK_NOTE

    for grade_id, cell in graded_cells(read(step.exercise)).items():
        assert cell.metadata.nbgrader["locked"] and cell.metadata.get("deletable") is False, grade_id
        assert cell.source.splitlines()[1] == LOCK_NOTE, f"{step.slug} {grade_id}: no lock notice"
