"""The benchmark's CPU window: opened at 10 % of the completions, closed at 90 % (or before other work
began), per message between."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

from bench.cpu import CpuUse, CpuWindow
from tests.support.processes import stat_field


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


def test_other_work_advancing_before_90_percent_closes_the_window_at_the_last_poll_before_it() -> None:
    window = CpuWindow({"harness": [os.getpid()]}, total=100)
    window.observe(12, others=0)
    _burn(0.4)
    window.observe(60, others=0)
    _burn(0.4)  # the other kind's messages ran here too: not charged to these
    window.observe(95, others=30)

    figures = window.per_message("test")

    assert figures["cpu_test_window_messages"] == 48
    assert 400 / 48 * 0.8 <= figures["cpu_test_harness_ms"] <= 400 / 48 * 1.25


def test_a_window_never_closed_gives_no_figure() -> None:
    window = CpuWindow({"harness": [os.getpid()], "other": []}, total=100)
    window.observe(50)

    assert all(math.isnan(value) for value in window.per_message("test").values())
    assert set(window.per_message("test")) == {"cpu_test_harness_ms", "cpu_test_other_ms"}


def test_a_process_started_during_the_measurement_counts_from_its_start() -> None:
    included, left_as_it_was = CpuUse({"services": []}), CpuUse({"services": []})
    late = subprocess.Popen([sys.executable, "-c", BURN_HALF_A_SECOND + "\ntime.sleep(30)"])
    try:
        _wait_for_cpu(late.pid, seconds=0.4)
        included.include_new({"services": [late.pid]})
        for use in (included, left_as_it_was):
            use.stop()
    finally:
        late.kill()
        late.wait()

    assert 400 <= included.per_message("test", messages=1)["cpu_test_services_ms"] <= 2_000
    assert left_as_it_was.per_message("test", messages=1)["cpu_test_services_ms"] == 0


BURN_HALF_A_SECOND = "import time\nuntil = time.process_time() + 0.5\nwhile time.process_time() < until: pass"


def _wait_for_cpu(pid: int, seconds: float) -> None:
    """Until the process has used ``seconds`` of CPU (clock ticks, as CpuUse reads them)."""
    ticks = seconds * os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 20
    while stat_field(pid, 11) + stat_field(pid, 12) < ticks:
        assert time.monotonic() < deadline, "the burner did not run"
        time.sleep(0.02)
