"""What ``docfleet supervise`` does with what its command left behind: a process group, stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from workers.cli import orphans

STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(60)"
)


def _stubborn_group() -> subprocess.Popen[bytes]:
    """A process that ignores SIGTERM, leading a process group of its own; once it is listening."""
    process = subprocess.Popen([sys.executable, "-c", STUBBORN], process_group=0, stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()
    return process


def test_a_group_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    process = _stubborn_group()
    started = time.monotonic()

    assert orphans.stop_group(process.pid, grace_s=0.5) == 1

    assert 0.5 <= time.monotonic() - started < 10
    assert not orphans.signal_group(process.pid, 0)


def test_a_stop_signal_during_the_grace_cuts_it_short() -> None:
    process = _stubborn_group()
    started = time.monotonic()

    assert orphans.stop_group(process.pid, grace_s=60, hurry=lambda: True) == 1

    assert time.monotonic() - started < 10
    assert not orphans.signal_group(process.pid, 0)


def test_an_ended_group_needs_nothing() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"], process_group=0)
    process.wait()

    assert orphans.stop_group(process.pid, grace_s=60) == 0


@pytest.mark.parametrize("signum", [0, signal.SIGTERM])
def test_a_group_that_is_not_there_is_told_apart(signum: int) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"], process_group=0)
    process.wait()

    assert not orphans.signal_group(process.pid, signum)
