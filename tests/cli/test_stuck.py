"""``workers.cli.stuck``: a process stuck as Dramatiq's main process can be, told from ``/proc``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import wedged_main
from workers.cli import stuck
from workers.cli.stuck import StuckWatch, blocks_sigterm, dead_children, wait_unless_stuck

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)")

Wedged = Callable[..., tuple["subprocess.Popen[bytes]", int]]


@pytest.fixture
def wedged(tmp_path: Path) -> Iterator[Wedged]:
    """Starts ``tests/support/wedged_main.py`` of a kind, once there; with its dead child's pid (0 for
    none). Killed at the end: its stop signals may be blocked."""
    started: list[subprocess.Popen[bytes]] = []

    def start(kind: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
        marks = tmp_path / f"marks-{len(started)}"
        process = subprocess.Popen([sys.executable, wedged_main.__file__, str(marks), kind, *args])
        started.append(process)
        deadline = time.monotonic() + 30
        while not (marks.exists() and marks.read_text().startswith("ready")):
            assert process.poll() is None, f"exited with {process.returncode}"
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.02)
        return process, int(marks.read_text().split()[2])

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_dramatiq_s_wedge_is_stuck_once_it_has_lasted_the_time_given(wedged: Wedged) -> None:
    process, dead = wedged("both")
    pid, watch = process.pid, StuckWatch(process.pid, stuck_after=60)

    assert blocks_sigterm(pid)
    assert list(dead_children(pid)) == [dead]
    assert not watch.is_stuck(now=100.0), "first seen"
    assert not watch.is_stuck(now=159.9)
    assert watch.is_stuck(now=160.0)
    assert watch.stuck_for(now=161.0) == 61.0


@pytest.mark.parametrize("kind", ["blocked", "dead-child"])
def test_either_half_alone_is_never_stuck(wedged: Wedged, kind: str) -> None:
    """Dramatiq's main process blocks its stop signals through every boot, and a process's dead child
    is a zombie until it is reaped: each alone is how a healthy process can look for a while."""
    process, dead = wedged(kind)
    pid, watch = process.pid, StuckWatch(process.pid, stuck_after=1)

    assert blocks_sigterm(pid) is (kind == "blocked")
    assert list(dead_children(pid)) == ([dead] if kind == "dead-child" else [])
    assert not watch.is_stuck(now=0.0)
    assert not watch.is_stuck(now=1_000.0)


def test_a_process_dead_before_the_block_began_does_not_count(
    wedged: Wedged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Dramatiq's main process after a reload: it execs in place, and the fork processes of the run
    before lie unreaped for good while it boots again with its stop signals blocked."""
    monkeypatch.setattr(stuck, "START_SLACK_S", 0.2)
    process, dead = wedged("stale", "1.5")  # blocked 1.5 s after its child died: more than 1 + 0.2
    watch = StuckWatch(process.pid, stuck_after=1)

    assert blocks_sigterm(process.pid)
    assert list(dead_children(process.pid)) == [dead]
    assert not watch.is_stuck(now=0.0)
    assert not watch.is_stuck(now=1_000.0)


def test_while_stopping_a_stuck_process_is_stuck_sooner(wedged: Wedged) -> None:
    """A SIGTERM forwarded to it stays pending, and honcho kills the supervisor 5 s after Ctrl-C."""
    process, _ = wedged("both")
    watch = StuckWatch(process.pid, stuck_after=60)

    assert not watch.is_stuck(now=0.0, stopping=True)
    assert not watch.is_stuck(now=2.9, stopping=True)
    assert not watch.is_stuck(now=3.0), "not stopping: 60 s"
    assert watch.is_stuck(now=3.0, stopping=True)


def test_a_break_starts_the_count_again() -> None:
    """Only both halves without a break count: here this process, which blocks SIGTERM for a moment
    and has a dead child throughout."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    _until_zombie(child.pid)
    watch = StuckWatch(os.getpid(), stuck_after=10)
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        assert not watch.is_stuck(now=0.0)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        assert not watch.is_stuck(now=5.0), "not blocked: the count is dropped"
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        assert not watch.is_stuck(now=12.0), "counted again from 12, not from 0"
        assert watch.is_stuck(now=22.0)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        child.wait()


def test_a_process_that_is_gone_is_not_stuck(wedged: Wedged) -> None:
    process, _ = wedged("both")
    watch = StuckWatch(process.pid, stuck_after=1)
    assert not watch.is_stuck(now=0.0)
    process.kill()
    process.wait()

    assert not watch.is_stuck(now=10.0)
    assert watch.stuck_for(now=10.0) == 0.0


def _until_zombie(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture(params=["pidfd", "polling"])
def exit_notice(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the supervisor learns of the child's exit: a pidfd (Linux), or Popen's polling."""
    if request.param == "polling":
        monkeypatch.delattr(os, "pidfd_open")
    return str(request.param)


def test_a_stuck_child_is_killed_and_its_status_returned(wedged: Wedged, exit_notice: str) -> None:
    process, _ = wedged("both")
    started = time.monotonic()

    assert wait_unless_stuck(process, stuck_after=1) == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_a_child_that_exits_has_its_own_status_returned(exit_notice: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(1.5); sys.exit(3)"])

    assert wait_unless_stuck(child, stuck_after=1) == 3
