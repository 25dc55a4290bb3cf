"""What a container is made of, seen from this machine (step 06).

A container is an ordinary process that the Linux kernel shows a narrowed view of
the system: its own *namespaces* (process ids, network, mounts, host name, IPC,
users, cgroup tree), limited by *cgroups* (CPU, memory) and filtered by
*seccomp* and dropped *capabilities*. These helpers read the notebook's own
namespaces from ``/proc/self/ns`` and start one process in new namespaces with
util-linux's ``unshare`` command, which needs no root where the kernel allows
unprivileged user namespaces.

Everything they return is a stable fact (a namespace kind, ``True``, a PID of 1),
never an inode number, so the walkthrough's output is the same on every Linux
machine that allows it. Where namespaces cannot be shown (macOS, Windows, no
``unshare``, or a kernel or policy that refuses unprivileged user namespaces),
they raise :class:`NamespacesUnavailable` with a one-line reason to print.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "NAMESPACE_KINDS",
    "NamespacesUnavailable",
    "in_new_namespaces",
    "own_namespaces",
    "shared_with_child",
]

# The namespace kinds a container runtime creates, as named in /proc/<pid>/ns.
NAMESPACE_KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")

_TIMEOUT = 10  # seconds; starting Python takes a fraction of one

# Runs in the child: prints each namespace's identity ("pid:[4026531836]") by kind.
_READ_NS = (
    "import json, os, sys\nprint(json.dumps({k: os.readlink('/proc/self/ns/' + k) for k in sys.argv[1:]}))"
)

# Runs inside the new namespaces: what the process sees of the system.
_LOOK_AROUND = (
    "import json, os, socket\n"
    "print(json.dumps({\n"
    "    'pid': os.getpid(),\n"
    "    'uid': os.getuid(),\n"
    "    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
    "    'interfaces': sorted(name for _, name in socket.if_nameindex()),\n"
    "    'kernel': os.uname().release,\n"
    "}))\n"
)


class NamespacesUnavailable(RuntimeError):
    """This system cannot show namespaces; ``str()`` is a one-line reason."""


def _proc_ns() -> Path:
    """``/proc/self/ns``, or :class:`NamespacesUnavailable` off Linux."""
    ns = Path("/proc/self/ns")
    if not sys.platform.startswith("linux") or not ns.is_dir():
        raise NamespacesUnavailable(
            f"namespaces are a Linux kernel feature and this is {sys.platform}: "
            "Docker Desktop runs containers inside a small Linux VM"
        )
    return ns


def _identities(kinds: tuple[str, ...]) -> dict[str, str]:
    ns = _proc_ns()
    return {kind: os.readlink(ns / kind) for kind in kinds}


def own_namespaces() -> list[str]:
    """The container-relevant namespace kinds this process belongs to (all of them, always).

    Every process is in one namespace of each kind; on a host those are the
    initial ones, shared by (almost) every process.
    """
    ns = _proc_ns()
    return [kind for kind in NAMESPACE_KINDS if (ns / kind).exists()]


def shared_with_child() -> dict[str, bool]:
    """For each namespace kind: does a child ``python -c`` process share this process's?

    A plain child inherits all of them, which is why it sees the same processes,
    network and files. Only a flag to ``clone``/``unshare`` gives it new ones.
    """
    kinds = tuple(own_namespaces())
    mine = _identities(kinds)
    out = subprocess.run(
        [sys.executable, "-c", _READ_NS, *kinds], capture_output=True, text=True, timeout=_TIMEOUT, check=True
    )
    child = json.loads(out.stdout)
    return {kind: child[kind] == mine[kind] for kind in kinds}


def in_new_namespaces() -> dict[str, object]:
    """Run a Python process in new user, pid, mount, net and uts namespaces; report what it saw.

    ``unshare --user --map-root-user`` makes the caller "root" only inside a new user
    namespace (no privilege on the host), which lets it create the others;
    ``--pid --fork --mount-proc`` gives the child its own process numbering and a
    ``/proc`` that shows only it; ``--net`` an empty network (loopback only). The
    kernel is the host's: that is the difference from a virtual machine.
    """
    _proc_ns()
    unshare = shutil.which("unshare")
    if unshare is None:
        raise NamespacesUnavailable("the unshare command (util-linux) is not installed here")
    cmd = [
        unshare, "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--net", "--uts",
        sys.executable, "-c", _LOOK_AROUND,
    ]  # fmt: skip
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NamespacesUnavailable(f"unshare could not run: {exc}") from None
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        raise NamespacesUnavailable(f"this system refuses unprivileged namespaces ({reason})")
    seen = json.loads(out.stdout)
    return {
        "its own PID": seen["pid"],
        "processes it can see": seen["pids"],
        "its user id (root, but only inside)": seen["uid"],
        "network interfaces": seen["interfaces"],
        "same kernel as the host": seen["kernel"] == os.uname().release,
    }
