"""Real git on throwaway repositories, with the same commit ids on every run.

Step 05 drives the real ``git`` program from Python. Three things make that fit a
notebook that nbval re-runs and a test cell that nbgrader grades:

- **Isolation.** Git never reads the user's or the system's configuration
  (``GIT_CONFIG_NOSYSTEM=1``, ``GIT_CONFIG_GLOBAL`` and ``HOME`` point into the lab's
  temp directory), and inherited ``GIT_*`` variables (a hook's ``GIT_DIR``, say) are
  dropped. The lab's own configuration sets ``init.defaultBranch=main``, no pager, no
  colour, no background gc, merge-style pulls, and English messages (``LC_ALL=C``).
- **Determinism.** A commit id hashes its author, committer and their dates. Every
  repository of a :class:`Lab` shares one :class:`Clock` that starts at a fixed
  instant and advances one minute for each command that can write a commit or a tag,
  so the same cells give the same ids on every machine and every run.
- **Silence.** stdout and stderr are captured: git writes nothing to the notebook's
  stderr (nbgrader zeroes a test cell that does). A failing command raises
  :class:`GitError` carrying both streams; :meth:`Repo.run` returns them instead, for
  commands that are *meant* to fail (a conflict, a rejected push, a blocked commit).

Typical use::

    with Lab() as lab:
        repo = lab.init("demo")
        repo.commit_file("README.md", "# Demo\\n", "Add a README")
        print(repo.git("log", "--oneline"))

:func:`draw_graph` draws a repository's commit graph with matplotlib.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ALICE",
    "BOB",
    "EPOCH",
    "MIN_VERSION",
    "Clock",
    "GitError",
    "GitTooOld",
    "Identity",
    "Lab",
    "Repo",
    "Result",
    "draw_graph",
    "git_version",
    "require_git",
]

#: 2024-01-01 09:00:00 UTC: the first commit of every lab is made "then".
EPOCH = 1_704_099_600
#: Seconds the clock advances per commit-writing command.
TICK = 60
#: The oldest git this module supports: ``init.defaultBranch`` (2.28) and
#: ``GIT_CONFIG_GLOBAL`` (2.32) are used. (Step 05 was recorded with git 2.39.)
MIN_VERSION = (2, 32)

#: Subcommands that may write a commit or a tag: each moves the clock (others do not, so
#: a ``git status`` added between two commits changes no id).
WRITERS = frozenset({"am", "cherry-pick", "commit", "merge", "notes", "pull", "rebase", "revert",
                     "stash", "tag"})

_LAB_CONFIG = """\
# Written by helpers/git_lab.py: the only configuration git reads in a Lab.
[init]
\tdefaultBranch = main
[core]
\tpager = cat
\tautocrlf = false
\tquotePath = false
[color]
\tui = false
[gc]
\tauto = 0
[maintenance]
\tauto = false
[pull]
\trebase = false
[merge]
\tconflictStyle = merge
[commit]
\tgpgSign = false
[tag]
\tgpgSign = false
[advice]
\tdetachedHead = false
\tskippedCherryPicks = false
"""


class GitError(RuntimeError):
    """A git command failed; ``returncode``, ``stdout`` and ``stderr`` say how."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args_run = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        output = (stdout + stderr).strip()
        super().__init__(f"`git {' '.join(args)}` exited with {returncode}:\n{output}")


class GitTooOld(RuntimeError):
    """The installed git lacks a feature this module relies on."""


@dataclass(frozen=True)
class Identity:
    """Who commits: a name and an email, as in ``user.name`` and ``user.email``."""

    name: str
    email: str


ALICE = Identity("Alice Example", "alice@example.com")
BOB = Identity("Bob Example", "bob@example.com")


@dataclass
class Clock:
    """A fake clock: ``tick()`` advances it ``step`` seconds and returns git's date format."""

    now: int = EPOCH
    step: int = TICK

    def tick(self) -> str:
        self.now += self.step
        return f"{self.now} +0000"

    def current(self) -> str:
        return f"{self.now} +0000"


@dataclass
class Result:
    """What a git command did: its exit status and both output streams."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        """stdout then stderr, as a terminal would show them (trailing newline dropped)."""
        return (self.stdout + self.stderr).rstrip("\n")


def _find_git() -> str:
    path = shutil.which("git")
    if path is None:
        raise GitTooOld("git is not installed (or not on PATH); step 05 needs git >= "
                        + ".".join(map(str, MIN_VERSION)))
    return path


def git_version() -> tuple[int, ...]:
    """The installed git's version, e.g. ``(2, 39, 5)``."""
    return _installed_version(_find_git())


@functools.cache
def _installed_version(git: str) -> tuple[int, ...]:
    out = subprocess.run([git, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise GitTooOld(f"cannot read git's version from {out!r}")
    return tuple(int(part) for part in match.groups() if part is not None)


def require_git(minimum: tuple[int, ...] = MIN_VERSION, feature: str = "this lab") -> str:
    """Raise :class:`GitTooOld` unless git is at least ``minimum``; return its version string."""
    found = git_version()
    if found < minimum:
        want = ".".join(map(str, minimum))
        raise GitTooOld(f"{feature} needs git >= {want}, but git {'.'.join(map(str, found))} is "
                        "installed; please upgrade git (https://git-scm.com/downloads)")
    return ".".join(map(str, found))


def _subcommand(args: Iterable[str]) -> str | None:
    """The git subcommand in ``args`` (skipping ``-c key=value`` and ``-C dir``)."""
    items = iter(args)
    for arg in items:
        if arg in ("-c", "-C"):
            next(items, None)
        elif not arg.startswith("-"):
            return arg
    return None


class Repo:
    """A repository (or a bare one) inside a :class:`Lab`, committing as ``identity``."""

    def __init__(self, path: Path, lab: Lab, identity: Identity = ALICE, bare: bool = False) -> None:
        self.path = Path(path)
        self.lab = lab
        self.identity = identity
        self.bare = bare

    def __repr__(self) -> str:
        return f"Repo({self.path.name!r}, {self.identity.name!r})"

    # -- running git ---------------------------------------------------------------

    def env(self, date: str | None = None) -> dict[str, str]:
        """The environment git runs with: isolated, this identity, the lab clock's date."""
        return self.lab.env(self.identity, date)

    def run(self, *args: str, input: str | None = None) -> Result:  # noqa: A002 (subprocess's name)
        """Run ``git args...`` here and return a :class:`Result`, whatever the exit status."""
        argv = [str(a) for a in args]
        date = self.lab.clock.tick() if _subcommand(argv) in WRITERS else None
        proc = subprocess.run(
            [self.lab.git, *argv], cwd=self.path, env=self.env(date), input=input,
            capture_output=True, text=True, encoding="utf-8", errors="replace", check=False,
        )
        return Result(argv, proc.returncode, proc.stdout, proc.stderr)

    def git(self, *args: str, input: str | None = None) -> str:  # noqa: A002
        """Run ``git args...`` and return its stdout (without the final newline).

        Raises :class:`GitError` (with stdout and stderr) if git exits non-zero.
        """
        result = self.run(*args, input=input)
        if not result.ok:
            raise GitError(result.args, result.returncode, result.stdout, result.stderr)
        return result.stdout.rstrip("\n")

    # -- conveniences ----------------------------------------------------------------

    def write(self, relpath: str, text: str) -> Path:
        """Write ``text`` (UTF-8, ``\\n`` line ends) to ``relpath`` in the work tree."""
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
        return target

    def read(self, relpath: str) -> str:
        """The work tree's ``relpath`` as text."""
        return (self.path / relpath).read_bytes().decode("utf-8")

    def commit_file(self, relpath: str, text: str, message: str) -> str:
        """Write, stage and commit one file; return the new commit's id."""
        self.write(relpath, text)
        self.git("add", "--", relpath)
        self.git("commit", "--quiet", "-m", message)
        return self.head()

    def head(self, rev: str = "HEAD") -> str:
        """The full id of ``rev`` (default ``HEAD``)."""
        return self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")

    def short(self, rev: str = "HEAD") -> str:
        """The abbreviated id of ``rev``."""
        return self.git("rev-parse", "--short", rev)

    def log(self, *extra: str) -> str:
        """``git log --oneline --graph --all --decorate``: the history at a glance."""
        return self.git("log", "--oneline", "--graph", "--all", "--decorate", *extra)

    def hook_path(self, name: str) -> Path:
        """Where git looks for the hook ``name`` (``.git/hooks/<name>`` unless configured)."""
        return self.path / self.git("rev-parse", "--git-path", f"hooks/{name}")

    def install_hook(self, name: str, python_source: str) -> Path:
        """Install ``python_source`` as the executable hook ``name`` (e.g. ``pre-commit``).

        The script runs with this very Python (the shebang names ``sys.executable``), so
        a hook can use everything the notebook can.
        """
        path = self.hook_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!{sys.executable}\n{python_source}", encoding="utf-8")
        path.chmod(0o755)
        return path


@dataclass
class Lab:
    """A temporary directory of repositories that share one clock and configuration.

    Use as a context manager, or call :meth:`cleanup` when done.
    """

    root: Path | None = None
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        require_git()  # a clear message, not a confusing failure, on a too old git
        self.git = _find_git()
        self._tmp = None
        if self.root is None:
            self._tmp = tempfile.mkdtemp(prefix="git-lab-")
            self.root = Path(self._tmp)
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = self.root / ".home"
        self.home.mkdir(exist_ok=True)
        self.config = self.home / ".gitconfig"
        self.config.write_text(_LAB_CONFIG, encoding="utf-8")

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the lab's directory (if the lab made it)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def env(self, identity: Identity, date: str | None = None) -> dict[str, str]:
        """git's environment for ``identity`` at ``date`` (default: the clock's current time)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        date = date or self.clock.current()
        env.update({
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(self.config),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home),
            "GIT_AUTHOR_NAME": identity.name,
            "GIT_AUTHOR_EMAIL": identity.email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": identity.name,
            "GIT_COMMITTER_EMAIL": identity.email,
            "GIT_COMMITTER_DATE": date,
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            "GIT_EDITOR": "true",  # keep the default message of merge/revert, never open an editor
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "TZ": "UTC",
        })
        return env

    def _repo_path(self, name: str) -> Path:
        path = self.root / name
        if path.exists():
            raise FileExistsError(f"{name!r} already exists in this lab")
        return path

    def init(self, name: str, identity: Identity = ALICE, bare: bool = False) -> Repo:
        """A new empty repository ``name`` (a bare one, like a server's, if ``bare``)."""
        path = self._repo_path(name)
        path.mkdir(parents=True)
        repo = Repo(path, self, identity, bare=bare)
        repo.git("init", "--quiet", *(["--bare"] if bare else []))
        return repo

    def clone(self, source: Repo, name: str, identity: Identity = ALICE) -> Repo:
        """Clone ``source`` (usually a bare "origin") into ``name``."""
        path = self._repo_path(name)
        helper = Repo(self.root, self, identity)
        helper.git("clone", "--quiet", str(source.path), name)
        return Repo(path, self, identity)

    def open(self, name: str, identity: Identity = ALICE) -> Repo:
        """The existing repository ``name`` of this lab."""
        path = self.root / name
        bare = not (path / ".git").exists()
        return Repo(path, self, identity, bare=bare)


# -- drawing ----------------------------------------------------------------------------

@dataclass
class _Commit:
    sha: str
    parents: list[str]
    subject: str


def _graph(repo: Repo, revs: list[str]) -> tuple[list[_Commit], dict[str, list[str]]]:
    """Commits reachable from ``revs`` (oldest first) and the ref names pointing at each."""
    out = repo.git("log", "--topo-order", "--reverse", "--format=%H %P%x09%s", *revs)
    commits = []
    for line in out.splitlines():
        ids, _, subject = line.partition("\t")
        sha, *parents = ids.split()
        commits.append(_Commit(sha, parents, subject))
    labels: dict[str, list[str]] = {}
    refs = repo.git("for-each-ref", "--format=%(objectname) %(*objectname) %(refname:short)",
                    "refs/heads", "refs/tags", "refs/remotes")
    for line in refs.splitlines():
        parts = line.split()
        sha, name = (parts[1], parts[2]) if len(parts) == 3 else (parts[0], parts[1])
        if not name.endswith("/HEAD"):
            labels.setdefault(sha, []).append(name)
    head = repo.run("symbolic-ref", "--short", "-q", "HEAD")
    head_sha = repo.run("rev-parse", "-q", "--verify", "HEAD").stdout.strip()
    if head_sha:
        if head.ok:
            names = labels.get(head_sha, [])
            branch = head.stdout.strip()
            labels[head_sha] = [f"HEAD → {n}" if n == branch else n for n in names]
        else:
            labels.setdefault(head_sha, []).insert(0, "HEAD")
    return commits, labels


def draw_graph(repo: Repo, revs: Iterable[str] = ("--all",), ax=None, title: str | None = None):
    """Draw ``repo``'s commit graph (time left to right, one lane per branch).

    Each dot is a commit, labelled with its short id and subject; arrows point from a
    commit to its parents, as git stores them; boxes name the refs. Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    commits, labels = _graph(repo, list(revs))
    if ax is None:
        _, ax = plt.subplots(figsize=(min(14.0, max(4.0, 1.5 * len(commits))), 2.6))
    index = {c.sha: i for i, c in enumerate(commits)}
    # Lanes: walk each branch's first-parent chain, main first; commits keep the first lane.
    lane: dict[str, int] = {}
    tips = [sha for sha, names in sorted(labels.items(), key=lambda kv: _lane_order(kv[1]))]
    tips += [c.sha for c in reversed(commits)]  # commits no ref names still get a lane
    next_lane = 0
    by_sha = {c.sha: c for c in commits}
    for tip in tips:
        if tip not in by_sha or tip in lane:
            continue
        sha = tip
        while sha in by_sha and sha not in lane:
            lane[sha] = next_lane
            parents = by_sha[sha].parents
            sha = parents[0] if parents else ""
        next_lane += 1
    for commit in commits:
        x, y = index[commit.sha], -lane[commit.sha]
        for parent in commit.parents:
            if parent in index:
                ax.add_patch(FancyArrowPatch(
                    (x, y), (index[parent], -lane[parent]), arrowstyle="-|>", mutation_scale=12,
                    shrinkA=9, shrinkB=9, color="0.45", connectionstyle="arc3,rad=0"))
        merge = len(commit.parents) > 1
        ax.plot(x, y, "o", ms=15, color="tab:purple" if merge else "tab:blue", zorder=3)
        subject = commit.subject if len(commit.subject) <= 18 else commit.subject[:17] + "…"
        ax.annotate(f"{commit.sha[:7]}\n{subject}", (x, y), xytext=(0, -14),
                    textcoords="offset points", ha="center", va="top", fontsize=7.5)
        if commit.sha in labels:
            ax.annotate("\n".join(labels[commit.sha]), (x, y), xytext=(0, 12),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.25", "fc": "lightyellow", "ec": "0.6"})
    lanes = max(lane.values(), default=0)
    ax.set_xlim(-0.7, len(commits) - 0.3)
    ax.set_ylim(-lanes - 0.9, 0.8)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _lane_order(names: list[str]) -> tuple[int, str]:
    """Main (or master) gets the first lane, then other branches, then remotes and tags."""
    plain = [n.removeprefix("HEAD → ") for n in names]
    if any(n in ("main", "master") for n in plain):
        return (0, "")
    if any("/" not in n and not n.startswith("v") for n in plain):
        return (1, min(plain))
    return (2, min(plain))
