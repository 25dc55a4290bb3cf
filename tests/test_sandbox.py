"""Confinement (issue 13): a confined kernel sees nothing of the course, reaches no host
server, and a fork bomb or a huge allocation fails that kernel only.

Each test starts a kernel in :class:`helpers.grader.sandbox.SandboxedKernelManager`
inside a fake course directory (solutions/, gradebook.db, another student) and runs
student code in it. Skipped, with the reason, where bubblewrap cannot run.
"""

from __future__ import annotations

import asyncio

import pytest

from helpers.grader import sandbox

pytestmark = pytest.mark.skipif(
    not sandbox.available(), reason="bubblewrap is not installed or cannot sandbox here"
)


@pytest.fixture
def course(tmp_path):
    (tmp_path / "solutions" / "01-fundamentals").mkdir(parents=True)
    (tmp_path / "solutions" / "01-fundamentals" / "01-fundamentals.ipynb").write_text("hidden tests")
    (tmp_path / "gradebook.db").write_text("grades")
    other = tmp_path / "autograded" / "bob" / "01-fundamentals"
    other.mkdir(parents=True)
    (other / "01-fundamentals.ipynb").write_text("bob's answers")
    mine = tmp_path / "autograded" / "alice" / "01-fundamentals"
    mine.mkdir(parents=True)
    (mine / "data.txt").write_text("alice's data")
    # nbgrader writes the notebook it grades here, with every hidden test, before running it
    (mine / "01-fundamentals.ipynb").write_text("### BEGIN HIDDEN TESTS")
    return tmp_path, mine


def run_confined(cwd, *cells, timeout=60):
    """Run ``cells`` in one confined kernel started in ``cwd``: [(status, ename, stdout)]."""

    async def main():
        km = sandbox.SandboxedKernelManager()
        await km.start_kernel(cwd=str(cwd))
        kc = km.client()
        kc.start_channels()
        results = []
        try:
            await kc.wait_for_ready(timeout=60)
            for code in cells:
                out = []

                def hook(msg, out=out):
                    if msg["msg_type"] == "stream":
                        out.append(msg["content"]["text"])

                reply = await kc.execute_interactive(
                    code, timeout=timeout, allow_stdin=False, output_hook=hook
                )
                content = reply["content"]
                results.append((content["status"], content.get("ename"), "".join(out)))
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            await km.cleanup_resources()
        return results

    return asyncio.run(main())


def test_the_kernel_sees_its_own_files_and_nothing_of_the_course(course):
    root, mine = course
    results = run_confined(
        mine,
        "print(open('data.txt').read())",
        "open('extra.txt', 'w').write('scratch')",
        f"open({str(root / 'solutions' / '01-fundamentals' / '01-fundamentals.ipynb')!r})",
        "open('../../../solutions/01-fundamentals/01-fundamentals.ipynb')",
        f"open({str(root / 'gradebook.db')!r})",
        "open('../../bob/01-fundamentals/01-fundamentals.ipynb')",
        "open('01-fundamentals.ipynb')",
    )
    assert results[0] == ("ok", None, "alice's data\n")
    assert results[1][0] == "ok", "its own directory is writable"
    for status, ename, _ in results[2:]:
        assert (status, ename) in {("error", "FileNotFoundError"), ("error", "PermissionError")}
    assert not (mine / "extra.txt").exists(), "it wrote to a private copy, not the course"


def test_no_host_network_but_its_own_loopback(course):
    _, mine = course
    results = run_confined(
        mine,
        "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=3)",
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
        "c = socket.create_connection(srv.getsockname()); print('loopback ok')",
    )
    assert results[0][:2] == ("error", "ConnectionRefusedError"), "the host's PostgreSQL is out of reach"
    assert results[1] == ("ok", None, "loopback ok\n")


def test_a_runaway_cell_is_interrupted(course):
    _, mine = course

    async def main():
        km = sandbox.SandboxedKernelManager()
        await km.start_kernel(cwd=str(mine))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            # As nbgrader runs cells (allow_errors): with stop_on_error=True ipykernel aborts
            # requests that arrive before it clears its abort flag, so "1 + 1" raced it.
            msg_id = kc.execute("while True: pass", stop_on_error=False)
            await asyncio.sleep(2)
            await km.interrupt_kernel()
            reply = await kc.get_shell_msg(timeout=30)
            while reply["parent_header"].get("msg_id") != msg_id:  # kernel_info's reply first
                reply = await kc.get_shell_msg(timeout=30)
            after = await kc.execute_interactive("1 + 1", timeout=30)
            return reply["content"].get("ename"), after["content"]["status"]
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            await km.cleanup_resources()

    assert asyncio.run(main()) == ("KeyboardInterrupt", "ok")


def test_a_huge_allocation_fails_in_the_kernel_only(course):
    _, mine = course
    results = run_confined(mine, "x = bytearray(20 * 1024**3)", "print('still here')")
    assert results[0][:2] == ("error", "MemoryError")
    assert results[1] == ("ok", None, "still here\n")


def test_a_fork_bomb_is_stopped_by_the_process_limit(course):
    _, mine = course
    bomb = (
        "import os, time\nn = 0\ntry:\n    for _ in range(2000):\n"
        "        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n        n += 1\n"
        "except OSError as e:\n    print('fork refused after', n)\n"
    )
    results = run_confined(mine, bomb)
    assert results[0][0] == "ok"
    assert "fork refused after" in results[0][2]
    assert int(results[0][2].split()[-1]) < 300


# Every step's proof batch (tests/test_grading.py) is graded confined where bubblewrap is
# installed: that is where each step's solution is shown to get full marks in the sandbox.


def test_a_checkout_under_tmp_is_not_hidden_by_the_private_tmp(tmp_path):
    """CI may clone the course under /tmp: the venv and helpers are bound after the
    sandbox's own /tmp is mounted, or the kernel could not even start."""
    import sys
    from pathlib import Path

    repo = Path("/tmp/some-checkout")  # noqa: S108
    command = sandbox.bwrap_command(tmp_path, tmp_path, tmp_path, repo,
                                    {"memory": 1, "cpu": 1, "processes": 1}, 1)
    private_tmp = command.index("--tmpfs")
    assert command[private_tmp + 1] == sandbox.SANDBOX_TMP
    binds = [i for i, arg in enumerate(command) if arg == "--ro-bind"]
    for target in (str(Path(sys.prefix).resolve()), str(repo / "helpers")):
        at = next(i for i in binds if command[i + 2] == target)
        assert at > private_tmp, f"{target} is bound before the private /tmp hides it"
