"""helpers.git_lab: isolated, deterministic, silent git on throwaway repositories."""

from __future__ import annotations

import hashlib
import subprocess

import matplotlib
import pytest

from helpers import git_lab
from helpers.git_lab import ALICE, BOB, GitError, GitTooOld, Lab, draw_graph, require_git

matplotlib.use("Agg")


@pytest.fixture
def lab():
    with Lab() as made:
        yield made


def build(lab):
    """A small history with a merge, the same in every lab."""
    repo = lab.init("demo")
    repo.commit_file("README.md", "# Demo\n", "Initial commit")
    repo.git("switch", "-q", "-c", "feature")
    repo.commit_file("app.py", "print('hi')\n", "Add the app")
    repo.git("switch", "-q", "main")
    repo.commit_file("LICENSE", "MIT\n", "Add a licence")
    repo.git("merge", "--no-edit", "feature")
    return repo


def test_same_commit_ids_in_every_lab():
    with Lab() as first, Lab() as second:
        a, b = build(first), build(second)
        assert a.head() == b.head()
        assert a.git("rev-list", "--all") == b.git("rev-list", "--all")


def test_dates_advance_one_tick_per_commit(lab):
    repo = build(lab)
    dates = [int(d) for d in repo.git("log", "--format=%ct", "--reverse", "main").splitlines()]
    assert dates[0] == git_lab.EPOCH + git_lab.TICK
    assert dates == sorted(dates) and len(set(dates)) == len(dates)


def test_reading_commands_do_not_move_the_clock(lab):
    repo = lab.init("quiet")
    before = lab.clock.now
    repo.git("status")
    repo.git("log", "--all", "--oneline")
    assert lab.clock.now == before


def test_identity_is_the_repos(lab):
    repo = lab.init("bob", identity=BOB)
    repo.commit_file("a.txt", "a\n", "A")
    assert repo.git("log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "Bob Example <bob@example.com>|Bob Example <bob@example.com>")
    assert ALICE != BOB


def test_users_configuration_is_not_read(lab, monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Somebody Else\n[init]\n\tdefaultBranch = trunk\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))  # as inside someone's hook
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Intruder")
    repo = lab.init("isolated")
    repo.commit_file("a.txt", "a\n", "A")
    assert repo.git("symbolic-ref", "--short", "HEAD") == "main"
    assert repo.git("log", "-1", "--format=%an") == "Alice Example"
    assert repo.git("config", "--get", "init.defaultBranch") == "main"


def test_failure_raises_with_both_streams(lab):
    repo = lab.init("fail")
    with pytest.raises(GitError) as info:
        repo.git("rev-parse", "--verify", "no-such-branch")
    assert info.value.returncode != 0
    assert "no-such-branch" in str(info.value)


def test_run_returns_a_failure_instead(lab):
    repo = lab.init("conflict")
    repo.commit_file("f.txt", "base\n", "Base")
    repo.git("switch", "-q", "-c", "other")
    repo.commit_file("f.txt", "theirs\n", "Theirs")
    repo.git("switch", "-q", "main")
    repo.commit_file("f.txt", "ours\n", "Ours")
    result = repo.run("merge", "other")
    assert not result.ok
    assert "CONFLICT" in result.output


def test_git_writes_nothing_to_the_callers_streams(lab, capfd):
    repo = lab.init("silent")
    repo.commit_file("a.txt", "a\n", "A")
    repo.run("checkout", "no-such-branch")  # git complains on its stderr
    origin = lab.init("origin.git", bare=True)
    repo.git("remote", "add", "origin", str(origin.path))
    repo.git("push", "-u", "origin", "main")  # push reports on stderr
    lab.clone(origin, "clone")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_hook_blocks_and_its_output_is_captured(lab, capfd):
    repo = lab.init("hooked")
    source = "import sys\nprint('no commits today', file=sys.stderr)\nsys.exit(1)\n"
    path = repo.install_hook("pre-commit", source)
    assert path == repo.path / ".git" / "hooks" / "pre-commit"
    repo.write("a.txt", "a\n")
    repo.git("add", "a.txt")
    result = repo.run("commit", "-m", "A")
    assert not result.ok and "no commits today" in result.stderr
    assert capfd.readouterr() == ("", "")


def test_blob_id_by_hand_matches_git(lab):
    repo = lab.init("hash")
    data = "naïve\n".encode()
    assert repo.git("hash-object", "--stdin", input="naïve\n") == hashlib.sha1(
        b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def test_require_git_reports_a_too_old_git(monkeypatch):
    assert require_git() == ".".join(map(str, git_lab.git_version()))
    monkeypatch.setattr(git_lab, "git_version", lambda: (2, 20, 1))
    with pytest.raises(GitTooOld, match=r"needs git >= 2\.32, but git 2\.20\.1"):
        require_git()
    with pytest.raises(GitTooOld, match="please upgrade git"):
        Lab()


def test_subcommand_skips_global_options():
    assert git_lab._subcommand(["-c", "user.name=x", "commit", "-m", "m"]) == "commit"
    assert git_lab._subcommand(["-C", "dir", "status"]) == "status"
    assert git_lab._subcommand(["--no-pager", "log"]) == "log"


def test_clone_and_open(lab):
    origin = lab.init("origin.git", bare=True)
    assert origin.bare
    seed = lab.clone(origin, "seed")
    seed.commit_file("a.txt", "a\n", "A")
    seed.git("push", "-q", "origin", "main")
    again = lab.open("seed")
    assert again.head() == seed.head() == origin.head("main")
    with pytest.raises(FileExistsError):
        lab.init("seed")


def test_lab_removes_its_folder():
    lab = Lab()
    lab.init("x")
    root = lab.root
    lab.cleanup()
    assert not root.exists()


def test_draw_graph_lanes_and_labels(lab):
    repo = build(lab)
    repo.git("tag", "-a", "v1", "-m", "one")
    commits, labels = git_lab._graph(repo, ["--all"])
    assert [c.subject for c in commits][0] == "Initial commit"
    assert labels[repo.head()] == ["HEAD → main", "v1"]
    ax = draw_graph(repo, title="demo")
    assert ax.get_title() == "demo"
    assert len(ax.patches) == 4  # four parent arrows: 1 + 1 + 2
    matplotlib.pyplot.close("all")


def test_git_is_isolated_from_inherited_git_variables(lab, monkeypatch):
    monkeypatch.setenv("GIT_INDEX_FILE", "/nonexistent/index")
    repo = lab.init("env")
    repo.commit_file("a.txt", "a\n", "A")  # would fail with the inherited index file
    env = repo.env()
    assert "GIT_INDEX_FILE" not in env and env["GIT_CONFIG_NOSYSTEM"] == "1"
    out = subprocess.run(["git", "config", "--list", "--show-origin"], cwd=repo.path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert str(lab.config) in out
