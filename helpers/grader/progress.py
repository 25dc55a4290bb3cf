"""Show how far a grading run is, on stderr: a bar on a terminal, plain lines in a log.

On a terminal the bar is redrawn in place after every submission; when stderr is a
file or a pipe (CI, ``nohup``, a cron job), one plain line is written every
``every`` seconds instead, so a log stays readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts of a grading run, drawn on ``stream`` (stderr by default)."""

    def __init__(self, total: int, stream: TextIO | None = None, every: float = 10.0,
                 label: str = "grading") -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.label = label
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self._last_line = self.start
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, failed: bool = False) -> None:
        """One more submission finished (``failed`` if it got no grade)."""
        self.done += 1
        self.failed += int(failed)
        self.draw()

    def line(self) -> str:
        """The current state in words, e.g. ``grading 12/40 (1 failed) 31 s``."""
        failed = f" ({self.failed} failed)" if self.failed else ""
        seconds = time.monotonic() - self.start
        return f"{self.label} {self.done}/{self.total}{failed} {seconds:.0f} s"

    def draw(self, force: bool = False) -> None:
        """Redraw the bar (terminal) or write a line if ``every`` seconds have passed."""
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.line()}  ")
            self.stream.flush()
            return
        now = time.monotonic()
        if force or now - self._last_line >= self.every:
            self._last_line = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line (terminal), or write the final count (log)."""
        if self.tty:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
        else:
            self.draw(force=True)
