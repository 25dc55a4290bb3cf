"""Kernels for grading that start and stop without jupyter_client's fixed waits.

Grading starts and stops one kernel per submission, and two of jupyter_client's
waits are fixed, not work (measured on 2 cores: a kernel ready in 0.50 s, of which
0.2 s is waiting; stopped in 0.11-0.21 s, nearly all of it waiting):

- **Ready.** After the ``kernel_info`` reply, ``wait_for_ready`` reads IOPub until
  it has been silent for 0.2 s (and when the first answer came before the IOPub
  subscription was live, which is usual, it asks again after 0.2 s of silence).
  :class:`QuickReadyClient` asks again after 0.05 s of silence, and is done at the
  idle status of one of its ``kernel_info`` requests: that message proves the IOPub
  subscription is connected (the reason for the wait); anything later belongs to a
  request of its own, and nbclient keeps only the messages of the request it made.
- **Stopped.** A graded kernel's state is thrown away, so it is killed at once (the
  ``Execute`` preprocessor's ``shutdown_kernel = "immediate"``): its whole process
  group, which includes any server the notebook started. jupyter_client then checks
  every 0.1 s whether it has gone; :class:`QuickKernels` checks every 5 ms.

The ``grade`` command's workers use them (``GuardedExecute.quick_kernels``); plain
``nbgrader autograde`` keeps jupyter_client's own behaviour.
"""

from __future__ import annotations

import asyncio
import time
from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

#: How long to wait for the next IOPub message while confirming the subscription (jupyter_client:
#: 0.2 s, and the first answer is usually missed: ZeroMQ subscribes a moment after connecting).
IOPUB_WAIT = 0.05
#: How long a killed kernel may take to go (as jupyter_client), and how often to look.
KILL_WAIT, KILL_POLL = 5.0, 0.005


class QuickReadyClient(AsyncKernelClient):
    """An AsyncKernelClient whose ``wait_for_ready`` ends as soon as the kernel is ready."""

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        asked: set[str] = set()
        while True:
            asked.add(self.kernel_info())
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply and reply["msg_type"] == "kernel_info_reply" and await self._idle_after(asked):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _idle_after(self, asked: set[str]) -> bool:
        """True once IOPub brings the idle status of one of the ``kernel_info`` requests
        ``asked``; False if it stays silent for :data:`IOPUB_WAIT` (the subscription was not
        connected yet when the kernel answered: the caller asks again)."""
        while True:
            try:
                msg = await self.iopub_channel.get_msg(timeout=IOPUB_WAIT)
            except Empty:
                return False
            if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                    and msg["parent_header"].get("msg_id") in asked):
                return True

    # AsyncKernelClient binds wait_for_ready to KernelClient's coroutine, not to this one.
    wait_for_ready = _async_wait_for_ready


class QuickKernels:
    """For a kernel manager class: :class:`QuickReadyClient` clients, and a killed kernel's end
    noticed within :data:`KILL_POLL` (mixed in before the manager class)."""

    def __init__(self, **kwargs) -> None:
        # A trait declared on this plain mixin would not be a trait; set the manager's own.
        kwargs.setdefault("client_class", f"{__name__}.QuickReadyClient")
        super().__init__(**kwargs)

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        if not self.has_kernel:
            return
        await self.provisioner.kill(restart=restart)
        deadline = time.monotonic() + KILL_WAIT
        while await self.provisioner.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(KILL_POLL)
        if await self.provisioner.poll() is None:
            self.log.warning("Wait for final termination of kernel timed out - continuing...")
        elif self.has_kernel:
            await self.provisioner.wait()  # reaps it and closes its pipes


class QuickKernelManager(QuickKernels, AsyncKernelManager):
    """An AsyncKernelManager made quick by :class:`QuickKernels`."""
