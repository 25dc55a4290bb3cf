"""Confinement: each submission's kernel runs inside bubblewrap (``bwrap``).

The kernel sees a read-only system (``/usr``, a few files of ``/etc``, the Python it
runs on, the virtual environment and the course's ``helpers`` package minus this
grading package), a private writable copy of its own submission directory (without
its notebooks: the one being graded holds the hidden tests of every cell), its own
``/tmp``, and nothing of the course: no ``solutions/``, no gradebook, no other
student. It has its own network namespace (a loopback that is up, so notebooks
still start servers on 127.0.0.1, and nothing else: the host's PostgreSQL is out of
reach), its own PID namespace, and runs as an unprivileged user under resource
limits (address space, CPU seconds, processes), so a fork bomb or a 20 GB
allocation fails that submission only. It dies with the grader.

The kernel talks to the grader over ZeroMQ IPC sockets in a directory bound into
the sandbox (``transport="ipc"``), not over host TCP.

Turn it on for ``nbgrader autograde`` with ``c.GuardedExecute.confine = True``
(``nbgrader_config.py`` does when ``GRADER_CONFINE=1``). Where bwrap is missing,
grading then stops with :data:`INSTALL_HINT` rather than run unconfined.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode

from helpers.grader.kernels import QuickKernels

BWRAP = "bwrap"
# Inside the sandbox: a fresh tmpfs of its own, not the host's /tmp.
SANDBOX_TMP = "/tmp"  # noqa: S108
SANDBOX_HOME = "/tmp/home"  # noqa: S108
INSTALL_HINT = (
    "Grading runs each submission confined with bubblewrap, which is not installed here. "
    "Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
    "`sudo dnf install bubblewrap`), or, to grade WITHOUT confinement (student code can "
    "then read solutions/ and the gradebook), leave GRADER_CONFINE unset."
)

# When the grader runs as root, each kernel runs as an unprivileged user of its own,
# picked from this range (no account needed): RLIMIT_NPROC is counted per user.
SANDBOX_UID = 65534
UID_RANGE = (200_000, 260_000)

# Files of /etc a Python kernel and the notebooks' servers need (names, TLS roots, time).
ETC = (
    "passwd", "group", "hosts", "nsswitch.conf", "host.conf", "localtime", "mime.types",
    "ssl", "ca-certificates", "alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
    "gitconfig",
)

# Environment kept from the grader's; everything else (tokens, database URLs) is dropped.
KEEP_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED", "TERM")


class ConfinementUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox here."""


@lru_cache(maxsize=1)
def check_bwrap() -> None:
    """Raise :class:`ConfinementUnavailable` unless an unprivileged sandbox starts here."""
    if not all(shutil.which(tool) for tool in (BWRAP, "setpriv", "prlimit")):
        raise ConfinementUnavailable(INSTALL_HINT)
    probe = [BWRAP, *_system_binds(), *_namespaces(), "--", *_run_as(SANDBOX_UID), "true"]
    proc = subprocess.run(probe, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ConfinementUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here ({proc.stderr.strip()}). "
            "It needs user namespaces (sysctl kernel.unprivileged_userns_clone=1; in a "
            f"container, run it with --security-opt seccomp=unconfined). {INSTALL_HINT}"
        )


def available() -> bool:
    """Whether confinement works on this machine."""
    try:
        check_bwrap()
    except ConfinementUnavailable:
        return False
    return True


def _namespaces(share_network: bool = False) -> list[str]:
    """bwrap's namespaces: as root, everything but the user namespace (the kernel's
    user is switched inside with setpriv, see :func:`_run_as`); otherwise all of them."""
    if os.geteuid() != 0:
        return ["--unshare-all"] + (["--share-net"] if share_network else [])
    names = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    return names + ([] if share_network else ["--unshare-net"])


def _run_as(uid: int) -> list[str]:
    """As root: become ``uid`` (a user of its own per kernel, so RLIMIT_NPROC, which is
    counted per user and not enforced for root, limits this sandbox alone)."""
    if os.geteuid() != 0:
        return []
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]


def _system_binds() -> list[str]:
    """Read-only /usr, the merged-/usr links, and the few files of /etc listed in ETC."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ETC:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _python_binds(repo: Path) -> list[str]:
    """The interpreter, the virtual environment and ``helpers`` (without this package)."""
    args: list[str] = []
    for prefix in {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}:
        if not str(prefix).startswith("/usr/"):
            args += ["--ro-bind", str(prefix), str(prefix)]
    helpers = repo / "helpers"
    args += ["--ro-bind", str(helpers), str(helpers), "--tmpfs", str(helpers / "grader")]
    return args


def _parents(*paths: Path) -> list[str]:
    """Create the ancestors of bind targets traversable (bwrap makes them 0700 as root)."""
    args: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        for parent in reversed(Path(path).parents):
            if parent not in seen and parent not in (Path("/"), Path(SANDBOX_TMP), Path("/usr")):
                seen.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
    return args


def bwrap_command(
    cwd: Path, private_cwd: Path, runtime: Path, repo: Path, limits: dict[str, int], uid: int,
    keep_env: tuple[str, ...] = KEEP_ENV, share_network: bool = False,
) -> list[str]:
    """The command prefix that runs a kernel confined (see the module docstring)."""
    env = ["--clearenv"]
    for key in keep_env:
        if key in os.environ:
            env += ["--setenv", key, os.environ[key]]
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env += [
        "--setenv", "PATH", path, "--setenv", "HOME", SANDBOX_HOME,
        "--setenv", "TMPDIR", SANDBOX_TMP,
        "--setenv", "PYDEVD_DISABLE_FILE_VALIDATION", "1",
    ]
    return [
        BWRAP,
        *_system_binds(),
        "--proc", "/proc", "--dev", "/dev",
        # The private /tmp first: a checkout or a venv under /tmp is bound on top of it.
        "--perms", "1777", "--tmpfs", SANDBOX_TMP, "--perms", "0777", "--dir", SANDBOX_HOME,
        *_parents(Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), repo / "helpers"),
        *_python_binds(repo),
        *_parents(cwd, runtime),
        "--bind", str(private_cwd), str(cwd),
        "--bind", str(runtime), str(runtime),
        "--chdir", str(cwd),
        *_namespaces(share_network),  # pid, net (a loopback only), ipc, uts
        "--die-with-parent", "--new-session",
        *env,
        "--",
        *_run_as(uid),
        "prlimit",
        f"--as={limits['memory']}", f"--cpu={limits['cpu']}", f"--nproc={limits['processes']}",
        "--",
    ]


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs under :func:`bwrap_command` over IPC."""

    memory_limit = Integer(
        4 * 1024**3, help="Address space of each process of a kernel, in bytes."
    ).tag(config=True)
    cpu_limit = Integer(300, help="CPU seconds each process of a kernel may use.").tag(config=True)
    process_limit = Integer(
        256, help="Processes and threads a kernel's sandbox may run at once."
    ).tag(config=True)

    share_network = Bool(
        False, help="Let kernels reach the host's network (e.g. a course database server)."
    ).tag(config=True)
    keep_env = List(
        Unicode(), list(KEEP_ENV), help="Environment variables passed into the sandbox."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        check_bwrap()
        self._uid = secrets.choice(range(*UID_RANGE)) if os.geteuid() == 0 else os.geteuid()
        self._runtime = Path(tempfile.mkdtemp(prefix="grader-kernel-"))
        self._private = Path(tempfile.mkdtemp(prefix="grader-cwd-"))
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", str(self._runtime / "kernel"))
        kwargs.setdefault("connection_file", str(self._runtime / "kernel.json"))
        super().__init__(**kwargs)
        if os.geteuid() == 0:
            for path in (self._runtime, self._private):
                os.chown(path, self._uid, self._uid)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        # The kernel is in its own session (no terminal to inject keystrokes into), out of
        # reach of the process-group SIGINT: interrupt it with a message instead.
        self.kernel_spec.interrupt_mode = "message"
        cwd = Path(self._launch_args.get("cwd") or self._private).resolve()
        private = self._private / "work"
        if not private.exists():
            if cwd != self._private:
                # Not the notebooks: nbgrader writes the one being graded here with every
                # test cell, hidden tests included, before it runs it.
                shutil.copytree(cwd, private, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
            else:
                private.mkdir()
            if os.geteuid() == 0:
                for root, dirs, files in os.walk(private):
                    for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.lchown(name, self._uid, self._uid)
        from helpers.course.steps import REPO

        limits = {"memory": self.memory_limit, "cpu": self.cpu_limit, "processes": self.process_limit}
        sandbox = bwrap_command(
            cwd, private, self._runtime, REPO, limits, self._uid,
            keep_env=tuple(self.keep_env), share_network=self.share_network,
        )
        return sandbox + cmd

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if os.geteuid() == 0:
            os.chown(self.connection_file, self._uid, self._uid)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            shutil.rmtree(self._runtime, ignore_errors=True)
            shutil.rmtree(self._private, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class QuickSandboxedKernelManager(QuickKernels, SandboxedKernelManager):
    """A SandboxedKernelManager made quick by :class:`helpers.grader.kernels.QuickKernels`."""
