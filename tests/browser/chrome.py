"""A small driver for headless Chromium over the DevTools protocol (no browser download).

Playwright's Python package needs greenlet 3, which httpbin (step 02) forbids, so the
browser tests speak the DevTools protocol themselves over ``websockets``, which the
course already installs. Only what the tests need: open a page, evaluate JavaScript,
wait for a condition.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

CANDIDATES = ["chromium", "chromium-browser", "google-chrome"]


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One headless Chromium process with a private profile; ``page()`` opens tabs."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", f"--user-data-dir={self.profile.name}",
             f"--remote-debugging-port={self.port}", "--remote-allow-origins=*",
             "--window-size=1400,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self._json("/json/version")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise RuntimeError("Chromium did not start its DevTools endpoint") from None
                time.sleep(0.2)

    def _get(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local http
            return response.read()

    def _json(self, path: str, method: str = "GET"):
        return json.loads(self._get(path, method))

    def page(self, url: str) -> Page:
        target = self._json(f"/json/new?{url}", method="PUT")
        return Page(target["webSocketDebuggerUrl"], target["id"], self)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.profile.cleanup()


class Page:
    """One tab: ``evaluate`` JavaScript, ``wait_for`` a JavaScript condition, ``click``."""

    def __init__(self, ws_url: str, target_id: str, browser: Browser) -> None:
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(ws_url, max_size=None, open_timeout=10))
        self.ids = itertools.count(1)
        self.target_id, self.browser = target_id, browser

    def send(self, method: str, **params):
        message_id = next(self.ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> object:
        """Poll ``expression`` until it is truthy; its value. Fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or expression}")
            time.sleep(0.25)

    def click(self, selector: str) -> None:
        """A real left click (mouse down and up) in the middle of the first ``selector`` match."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot")["data"]))

    def close(self) -> None:
        self.stack.close()
        self.browser._get(f"/json/close/{self.target_id}")
