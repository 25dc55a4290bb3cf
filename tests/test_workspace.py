"""Step names, the learner's copies in my-work/ and resetting them (no kernels run here).

Each test points the step registry at a temporary my-work/ folder, so a real
learner's copies in this checkout are never touched.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat
import pytest

from helpers.course import steps, workspace
from helpers.course.__main__ import main

FIRST = steps.STEPS[0]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """An empty my-work/ for this test, with no Jupyter server running."""
    monkeypatch.setattr(steps, "WORK", tmp_path / "my-work")
    monkeypatch.setattr(workspace, "open_in_jupyter", lambda path: [])
    return tmp_path / "my-work"


@pytest.mark.parametrize("name", ["1", "01", "fundamentals", "01-fundamentals", "FUNDAMENTALS", " 01 "])
def test_a_step_is_found_by_number_or_name(name):
    assert steps.find_step(name).slug == "01-fundamentals"


def test_ten_is_step_ten_not_step_one():
    assert steps.find_step("10").slug == "10a-blog"
    assert steps.find_step("10b").slug == "10b-shop"
    assert steps.find_step("blog").slug == "10a-blog"
    assert steps.find_step("7").slug == "07-security"
    assert steps.find_step("11").slug == "11a-messaging-and-search"
    assert steps.find_step("11b").slug == "11b-architecture-and-scale"


@pytest.mark.parametrize("name", ["0", "12", "fund", "01-fun", "", "1-fundamentals"])
def test_an_unknown_name_lists_the_valid_ones_and_exits_2(name):
    with pytest.raises(steps.UnknownStep) as raised:
        steps.find_step(name)
    assert raised.value.code == 2
    assert all(s.slug in raised.value.message for s in steps.STEPS)


@pytest.mark.parametrize("command", [["check", "fundamentalz"], ["reset", "1x"], ["execute", "99"]])
def test_commands_print_the_error_and_return_2(command, capsys, work):
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "Unknown step" in err and "01-fundamentals" in err


def test_reset_of_a_step_without_exercises_says_coming(capsys, work, monkeypatch):
    """A step listed before its exercises are released (each capstone was, for a while)."""
    future = steps.Step("11z-future", "A step still being written")
    monkeypatch.setattr(steps, "STEPS", [*steps.STEPS, future])
    assert not future.built
    assert main(["reset", "11z"]) == 2
    assert "no exercises yet (coming)" in capsys.readouterr().err


def test_walkthrough_copies_link_to_each_other_and_to_the_home(work):
    created = workspace.ensure_copies()
    copy = workspace.walkthrough_copy(FIRST)
    assert copy in created and copy.parent == work and copy.name == "01-fundamentals-walkthrough.ipynb"
    assert copy.name != FIRST.work_copy.name, "two tabs never show the same file name"
    text = "\n".join(c.source for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "markdown")
    assert "](02-web-walkthrough.ipynb)" in text and "](02-web.ipynb)" not in text
    assert "](../HOME.md)" in text and "README.md#the-steps" not in text
    assert "](../my-work/01-fundamentals/01-fundamentals.ipynb)" in text, "still finds the exercises"


def test_links_to_a_capstone_walkthrough_point_at_its_copy(work):
    workspace.ensure_copies()
    step = steps.find_step("09")
    text = "\n".join(c.source for c in nbformat.read(workspace.walkthrough_copy(step), as_version=4).cells
                     if c.cell_type == "markdown")
    assert "](10a-blog-walkthrough.ipynb)" in text and "](10a-blog.ipynb)" not in text


def test_running_a_walkthrough_copy_leaves_the_tracked_file_alone(work):
    tracked = FIRST.walkthrough.read_bytes()
    workspace.ensure_copies()
    copy = workspace.walkthrough_copy(FIRST)
    copy.write_text(copy.read_text().replace("Fundamentals", "my experiment"))  # an autosave
    assert FIRST.walkthrough.read_bytes() == tracked
    assert workspace.ensure_copies() == [], "an existing copy is never overwritten"
    assert "my experiment" in copy.read_text()


def test_reset_of_a_walkthrough_gives_the_pristine_one_and_keeps_the_old(work, capsys):
    workspace.ensure_copies()
    copy = workspace.walkthrough_copy(FIRST)
    pristine = copy.read_bytes()
    copy.write_text("my outputs")
    assert main(["reset", "--walkthrough", "01"]) == 0
    assert copy.read_bytes() == pristine
    [backup] = (work / "backups").iterdir()
    assert backup.read_text() == "my outputs" and backup.name.startswith("01-fundamentals-walkthrough-")
    assert "my-work/backups/" in capsys.readouterr().out or str(work) in str(backup)


def test_backups_from_older_versions_move_out_of_the_step_folder(work):
    old = work / FIRST.slug / f"{FIRST.slug}.backup-20250101-120000.ipynb"
    old.parent.mkdir(parents=True)
    old.write_text("old answers")
    workspace.ensure_copies()
    assert not old.exists()
    assert (work / "backups" / f"{FIRST.slug}-20250101-120000.ipynb").read_text() == "old answers"


class Sessions(BaseHTTPRequestHandler):
    """A stand-in for a Jupyter server's sessions API (the only call reset makes)."""

    open_paths: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        ok = self.path == "/api/sessions" and self.headers["Authorization"] == "token secret"
        body = json.dumps([{"path": p} for p in self.open_paths]).encode() if ok else b"[]"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def jupyter(tmp_path, monkeypatch):
    """A running 'Jupyter server' rooted at tmp_path, as list_running_servers reports it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sessions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {"url": f"http://127.0.0.1:{server.server_port}/", "token": "secret", "root_dir": str(tmp_path)}
    monkeypatch.setattr("jupyter_server.serverapp.list_running_servers", lambda: iter([info]))
    monkeypatch.setattr(steps, "WORK", tmp_path / "my-work")
    yield Sessions
    server.shutdown()
    server.server_close()
    Sessions.open_paths = []


def test_reset_refuses_while_the_copy_is_open_in_jupyterlab(jupyter, capsys):
    workspace.ensure_copies()
    FIRST.work_copy.write_text("my answers")
    jupyter.open_paths = ["my-work/01-fundamentals/01-fundamentals.ipynb"]
    assert main(["reset", "01"]) == 3
    assert "Close its tab first" in capsys.readouterr().err
    assert FIRST.work_copy.read_text() == "my answers", "nothing changed"
    jupyter.open_paths = ["my-work/02-web/02-web.ipynb"]  # another notebook open: fine
    assert main(["reset", "01"]) == 0
    fresh = nbformat.read(FIRST.work_copy, as_version=4)
    assert fresh.cells == nbformat.read(FIRST.exercise, as_version=4).cells


def test_copies_carry_this_kernels_language_info_so_they_open_saved(work):
    import platform

    workspace.ensure_copies()
    for path in (FIRST.work_copy, workspace.walkthrough_copy(FIRST)):
        info = nbformat.read(path, as_version=4).metadata.language_info
        assert info["version"] == platform.python_version() and info["codemirror_mode"]["version"] == 3
