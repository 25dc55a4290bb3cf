"""helpers/grader/kernels.py: kernels the grade command starts and stops without fixed waits."""

from __future__ import annotations

import asyncio
import os

import psutil

from helpers.grader.kernels import QuickKernelManager, QuickReadyClient


async def _run(code: str) -> tuple[list[str], QuickKernelManager]:
    km = QuickKernelManager(kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    assert isinstance(kc, QuickReadyClient)
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        outputs: list[str] = []

        def keep(msg):
            if msg["msg_type"] == "stream":
                outputs.append(msg["content"]["text"])

        # Straight after ready: an IOPub that was not yet subscribed would lose this output.
        reply = await kc.execute_interactive(code, timeout=30, output_hook=keep)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
    return outputs, km


def test_the_first_output_after_ready_arrives_and_kill_ends_the_whole_kernel(monkeypatch):
    confirmations = []
    idle_after = QuickReadyClient._idle_after

    async def counted(self, asked):
        confirmations.append(await idle_after(self, asked))
        return confirmations[-1]

    monkeypatch.setattr(QuickReadyClient, "_idle_after", counted)
    code = ("import subprocess, sys\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print('started', child.pid)")

    async def scenario():
        outputs, km = await _run(code)
        kernel_pid = km.provisioner.pid
        await km.shutdown_kernel(now=True)
        return outputs, kernel_pid

    outputs, kernel_pid = asyncio.run(scenario())
    assert confirmations and confirmations[-1], "ready came from QuickReadyClient's own wait"
    assert outputs and outputs[0].startswith("started ")
    server_pid = int(outputs[0].split()[1])
    for pid in (kernel_pid, server_pid):  # the kernel and what it started (its process group)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    assert os.getpid()  # the test process itself was not in the killed group
