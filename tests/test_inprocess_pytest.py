"""helpers.inprocess_pytest: pytest.main gives the command's report and exit status and leaves nothing."""

from __future__ import annotations

import gc
import os
import sys
import textwrap

from helpers.inprocess_pytest import run_pytest

MODULE = textwrap.dedent("""
    import os

    def double(x):
        return 2 * x

    GREETING = os.environ.get("GREETING_FOR_TEST", "unset")
""")
TESTS = textwrap.dedent("""
    from doubler import GREETING, double

    def test_double():
        assert double(2) == 4

    def test_greeting():
        assert GREETING == "hello"
""")


def test_a_passing_then_a_failing_run_see_the_files_as_they_are(tmp_path):
    (tmp_path / "doubler.py").write_text(MODULE)
    (tmp_path / "test_doubler.py").write_text(TESTS)
    path, cwd = list(sys.path), os.getcwd()

    run = run_pytest(tmp_path, "-q", env={"GREETING_FOR_TEST": "hello"})
    assert run.exit_code == 0, run.output
    assert run.output.strip().splitlines()[-1].startswith("2 passed"), run.output
    assert "GREETING_FOR_TEST" not in os.environ  # the environment is put back
    assert "doubler" not in sys.modules and "test_doubler" not in sys.modules
    assert (sys.path, os.getcwd()) == (path, cwd)
    assert gc.get_freeze_count() == 0  # the objects frozen for the run are collectable again

    (tmp_path / "doubler.py").write_text(MODULE.replace("2 * x", "x + x + 1"))  # same second, new code
    run = run_pytest(tmp_path, "-q", "--tb=line")
    assert run.exit_code == 1, run.output
    assert "2 failed" in run.output.strip().splitlines()[-1], run.output  # the new code and no GREETING
    assert "\x1b[" not in run.output  # plain text, no colours
    assert not (tmp_path / ".pytest_cache").exists()


def test_no_tests_is_the_commands_exit_status_5(tmp_path):
    assert run_pytest(tmp_path, "-q").exit_code == 5


def test_run_pytest_in_this_process_twice_with_other_conftests(tmp_path, capsys, monkeypatch):
    """run_pytest: a second folder's conftest.py is imported afresh; env, sys.path and output stay clean."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "--definitely-not-an-option")  # an outer run's options do not apply
    path_before = list(sys.path)
    summaries = []
    for value in ("first", "second"):
        folder = tmp_path / value
        folder.mkdir()
        (folder / "conftest.py").write_text(
            f"import pytest\n\n@pytest.fixture\ndef value():\n    return {value!r}\n")
        (folder / "test_value.py").write_text(f"def test_value(value):\n    assert value == {value!r}\n")
        run = run_pytest(folder, "-q")
        assert run.exit_code == 0, run.output
        summaries.append(run.output.strip().splitlines()[-1])
    assert [s.split(" in ")[0] for s in summaries] == ["1 passed", "1 passed"]
    assert "\x1b[" not in "".join(summaries)  # plain text, no colours
    assert os.environ["PYTEST_ADDOPTS"] == "--definitely-not-an-option"
    assert sys.path == path_before
    assert capsys.readouterr().out == ""  # pytest's report went into `output`, not to stdout
