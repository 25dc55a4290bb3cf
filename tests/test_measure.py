"""helpers/measure.py: the timing helpers the walkthroughs print and plot with."""

from __future__ import annotations

import time

import pytest

from helpers.measure import best_time, fmt_duration, log_limits


def test_durations_read_with_a_unit():
    assert [fmt_duration(s) for s in (1.2, 0.00456, 12.3e-6, 5e-9)] == ["1.2 s", "4.56 ms", "12.3 µs", "5 ns"]


@pytest.mark.parametrize("seconds", [[0.001, 0.25], [0.25, 0.5], [0.001, 0.01]])
def test_a_target_line_stays_inside_the_log_axis(seconds):
    """Step 07's bcrypt plot: 0.25 s equal to (or beyond) the slowest cost stayed on the frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = 0.25
    fig, ax = plt.subplots()
    ax.semilogy(range(len(seconds)), seconds, "o-")
    ax.axhline(target)
    ax.set_ylim(log_limits(*seconds, target))
    low, high = ax.get_ylim()
    plt.close(fig)
    for value in (*seconds, target):
        assert low * 2 < value < high / 2, f"{value} is at the edge of {low}..{high}"


def test_log_limits_refuse_what_a_log_axis_cannot_show():
    with pytest.raises(ValueError, match="positive"):
        log_limits(0.0, 1.0)


def test_cpu_time_ignores_waiting():
    """best_time(cpu=True) counts the thread's CPU time: a sleep costs (almost) nothing."""
    wall = best_time(lambda: time.sleep(0.02), repeat=2)
    cpu = best_time(lambda: time.sleep(0.02), repeat=2, cpu=True)
    assert wall >= 0.02, wall
    if time.get_clock_info("thread_time").resolution <= 1e-6:
        assert cpu < 0.005, cpu


def test_cpu_time_counts_work():
    """CPU-bound work shows up in the CPU time, within the wall time it took."""
    cpu = best_time(lambda: sum(i * i for i in range(20_000)), repeat=3, cpu=True)
    assert 0 < cpu < 1, cpu
