"""Timing helpers for the notebooks' measured examples.

Measured times vary from run to run and machine to machine, so notebooks print
them with :func:`fmt_duration` (the test suite's sanitizer recognises that format)
and draw conclusions as stable facts: ``set is faster: True``.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

__all__ = ["best_time", "fmt_duration", "log_limits", "stopwatch"]


def best_time(fn: Callable[[], object], number: int = 1, repeat: int = 5, cpu: bool = False) -> float:
    """Seconds per call of ``fn()``: the best of ``repeat`` runs of ``number`` calls.

    The minimum is the least disturbed by whatever else the machine was doing.
    ``cpu=True`` counts the CPU time of the calling thread instead of the wall clock,
    for CPU-bound work (a password hash) on a busy machine: time spent waiting for a
    core is not counted. It falls back to the wall clock where the thread clock is
    coarse (Windows counts in 15.6 ms ticks).
    """
    timer = _cpu_timer() if cpu else time.perf_counter
    return min(timeit.repeat(fn, number=number, repeat=repeat, timer=timer)) / number


def _cpu_timer() -> Callable[[], float]:
    """``time.thread_time`` if it resolves microseconds, else ``time.perf_counter``."""
    try:
        if time.get_clock_info("thread_time").resolution <= 1e-6:
            return time.thread_time
    except (AttributeError, ValueError, OSError):
        pass
    return time.perf_counter


def fmt_duration(seconds: float) -> str:
    """A duration with a sensible unit: ``'12.3 µs'``, ``'4.56 ms'``, ``'1.20 s'``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def log_limits(*values: float, margin: float = 3.0) -> tuple[float, float]:
    """Limits for a log-scale axis with every value well inside: ``ax.set_ylim(log_limits(...))``.

    Pass the measurements and any reference line (a target, a budget): a line equal to
    the largest measurement would otherwise sit on the frame, where it cannot be seen.
    """
    if not values or min(values) <= 0:
        raise ValueError(f"log_limits needs positive values, got {values!r}")
    return min(values) / margin, max(values) * margin


class stopwatch:  # noqa: N801 (reads as a function in `with stopwatch() as t:`)
    """Context manager measuring wall-clock time: ``with stopwatch() as t: ...; t.seconds``."""

    def __enter__(self) -> stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self._start
