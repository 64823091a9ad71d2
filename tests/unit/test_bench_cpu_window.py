"""The benchmark's CPU window: opened at 10 % of the completions, closed at 90 %, per message between."""

from __future__ import annotations

import math
import os
import time

from bench.cpu import CpuWindow


def _burn(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_the_cpu_used_between_10_and_90_percent_is_divided_by_the_messages_between() -> None:
    window = CpuWindow({"harness": [os.getpid()]}, total=100)
    window.observe(5)
    _burn(0.2)  # before the window: not counted
    window.observe(12)
    _burn(0.4)
    window.observe(92)
    _burn(0.2)  # after it: not counted either
    window.observe(100)

    per_message = window.per_message("test")["cpu_test_harness_ms"]

    assert 400 / 80 * 0.8 <= per_message <= 400 / 80 * 1.25


def test_a_window_never_closed_gives_no_figure() -> None:
    window = CpuWindow({"harness": [os.getpid()], "other": []}, total=100)
    window.observe(50)

    assert all(math.isnan(value) for value in window.per_message("test").values())
    assert set(window.per_message("test")) == {"cpu_test_harness_ms", "cpu_test_other_ms"}
