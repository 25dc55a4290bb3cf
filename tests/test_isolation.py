"""helpers/isolation.py: namespaces read from /proc and a process started in new ones."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import isolation
from helpers.isolation import (
    NAMESPACE_KINDS,
    NamespacesUnavailable,
    in_new_namespaces,
    own_namespaces,
    shared_with_child,
)

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only")


@linux
def test_a_process_is_in_every_namespace_kind():
    assert own_namespaces() == list(NAMESPACE_KINDS)


@linux
def test_a_plain_child_shares_all_its_parents_namespaces():
    assert shared_with_child() == dict.fromkeys(NAMESPACE_KINDS, True)


def _unshare_allowed() -> bool:
    tool = shutil.which("unshare")
    if tool is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run([tool, "--user", "--map-root-user", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_allowed(), reason="unprivileged user namespaces not allowed here")
def test_the_child_in_new_namespaces_sees_only_itself_on_the_same_kernel():
    assert in_new_namespaces() == {
        "its own PID": 1,
        "processes it can see": [1],
        "its user id (root, but only inside)": 0,
        "network interfaces": ["lo"],
        "same kernel as the host": True,
    }


def test_off_linux_both_explain_instead_of_failing(monkeypatch):
    monkeypatch.setattr(isolation.sys, "platform", "darwin")
    with pytest.raises(NamespacesUnavailable, match="Linux kernel feature and this is darwin"):
        own_namespaces()
    with pytest.raises(NamespacesUnavailable, match="darwin"):
        in_new_namespaces()


@linux
def test_without_unshare_the_reason_names_the_missing_tool(monkeypatch):
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    with pytest.raises(NamespacesUnavailable, match=r"unshare command \(util-linux\) is not installed"):
        in_new_namespaces()


@linux
def test_a_refusal_is_one_line_with_unshares_own_reason(monkeypatch):
    """What Ubuntu 24.04's AppArmor policy or a container without CAP_SYS_ADMIN does."""

    def refused(cmd, **kwargs):
        return subprocess.CompletedProcess(
            cmd, 1, "", "unshare: write failed /proc/self/uid_map: Operation not permitted\n"
        )

    monkeypatch.setattr(isolation.subprocess, "run", refused)
    with pytest.raises(NamespacesUnavailable) as info:
        in_new_namespaces()
    assert "\n" not in str(info.value)
    assert str(info.value).endswith("(unshare: write failed /proc/self/uid_map: Operation not permitted)")
