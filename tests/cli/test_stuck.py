"""``workers.cli.stuck``: a process stuck as Dramatiq's main process can be, told from ``/proc``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

import pytest

from tests.support import wedged_main
from tests.support.waiting import wait_for
from workers.cli.procfs import state
from workers.cli.stuck import StuckWatch, blocks_sigterm, dead_children, since_boot, wait_unless_stuck

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)")


class Wedge(NamedTuple):
    process: subprocess.Popen[bytes]
    dead: int  # its dead child's pid, 0 for none
    started_at: float  # since_boot() before it was started


class Wedged(Protocol):
    def __call__(self, kind: str, *args: str, looking: Callable[[int], object] = ...) -> Wedge: ...


@pytest.fixture
def wedged(tmp_path: Path) -> Iterator[Wedged]:
    """Starts ``tests/support/wedged_main.py`` of a kind, and returns once it is there; ``looking``
    is called meanwhile with its pid, as a supervisor's watch looks. Killed at the end: its stop
    signals may be blocked."""
    started: list[subprocess.Popen[bytes]] = []

    def start(kind: str, *args: str, looking: Callable[[int], object] = lambda _pid: None) -> Wedge:
        marks, started_at = tmp_path / f"marks-{len(started)}", since_boot()
        process = subprocess.Popen([sys.executable, wedged_main.__file__, str(marks), kind, *args])
        started.append(process)

        def ready() -> int | None:
            assert process.poll() is None, f"exited with {process.returncode}"
            looking(process.pid)
            written, _, dead = wedged_main.read_marks(marks)
            return dead + 1 if written == "ready" else None  # 0 for no dead child is falsy

        return Wedge(process, wait_for(ready, what=f"{kind} ready", interval=0.02) - 1, started_at)

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_dramatiq_s_wedge_is_stuck_once_it_has_lasted_the_time_given(wedged: Wedged) -> None:
    process, dead, started_at = wedged("both")
    pid, watch = process.pid, StuckWatch(process.pid, stuck_after=60, started_at=started_at)

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
    process, dead, started_at = wedged(kind)
    pid, watch = process.pid, StuckWatch(process.pid, stuck_after=1, started_at=started_at)

    assert blocks_sigterm(pid) is (kind == "blocked")
    assert list(dead_children(pid)) == ([dead] if kind == "dead-child" else [])
    assert not watch.is_stuck(now=0.0)
    assert not watch.is_stuck(now=1_000.0)


def test_a_process_dead_before_the_block_began_does_not_count(wedged: Wedged) -> None:
    """As Dramatiq's main process after a reload: it execs in place, and the fork processes of the run
    before lie unreaped for good while it boots again with its stop signals blocked. The watch saw
    the process unblocked after that one had died (here while its child was dead and the block 3 s
    away), so that one is not of this block."""
    watches: list[StuckWatch] = []

    def look(pid: int) -> None:
        watches[:] = watches or [StuckWatch(pid, stuck_after=1, started_at=0.0)]
        watches[0].is_stuck(now=0.0)

    process, dead, _ = wedged("stale", "3", looking=look)
    [watch] = watches

    assert blocks_sigterm(process.pid)
    assert list(dead_children(process.pid)) == [dead]
    assert not watch.is_stuck(now=0.0)
    assert not watch.is_stuck(now=1_000.0)


def test_without_a_look_between_its_death_and_the_block_the_same_process_counts(wedged: Wedged) -> None:
    """The other side of the test above: what tells the two apart is the look while unblocked."""
    process, _, started_at = wedged("stale", "1")
    watch = StuckWatch(process.pid, stuck_after=1, started_at=started_at)

    assert not watch.is_stuck(now=0.0)
    assert watch.is_stuck(now=1.0)


def test_while_stopping_a_stuck_process_is_stuck_sooner(wedged: Wedged) -> None:
    """A SIGTERM forwarded to it stays pending, and honcho kills the supervisor 5 s after Ctrl-C."""
    process, _, started_at = wedged("both")
    watch = StuckWatch(process.pid, stuck_after=60, started_at=started_at)

    assert not watch.is_stuck(now=0.0, stopping=True)
    assert not watch.is_stuck(now=2.9, stopping=True)
    assert not watch.is_stuck(now=3.0), "not stopping: 60 s"
    assert watch.is_stuck(now=3.0, stopping=True)


def test_a_break_starts_the_count_again() -> None:
    """Only both halves without a break count: here this process, which blocks SIGTERM twice, with a
    child of its own dead during each block."""
    watch = StuckWatch(os.getpid(), stuck_after=10, started_at=since_boot())
    first, second = None, None
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        first = _dead_child()
        assert not watch.is_stuck(now=0.0)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        assert not watch.is_stuck(now=5.0), "not blocked: the count is dropped"
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        assert not watch.is_stuck(now=6.0), "the first child died before this block: it does not count"
        second = _dead_child()
        assert not watch.is_stuck(now=12.0), "counted again from 12, not from 0"
        assert not watch.is_stuck(now=21.9)
        assert watch.is_stuck(now=22.0)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        for child in (first, second):
            if child is not None:
                child.wait()


def _dead_child() -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: state(child.pid) == "Z", what="the child's exit", interval=0.01)
    return child


def test_a_process_that_is_gone_is_not_stuck(wedged: Wedged) -> None:
    process, _, started_at = wedged("both")
    watch = StuckWatch(process.pid, stuck_after=1, started_at=started_at)
    assert not watch.is_stuck(now=0.0)
    process.kill()
    process.wait()

    assert not watch.is_stuck(now=10.0)
    assert watch.stuck_for(now=10.0) == 0.0


@pytest.fixture(params=["pidfd", "polling"])
def exit_notice(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the supervisor learns of the child's exit: a pidfd (Linux), or Popen's polling."""
    if request.param == "polling":
        monkeypatch.delattr(os, "pidfd_open")
    return str(request.param)


def test_a_stuck_child_is_killed_and_its_status_returned(wedged: Wedged, exit_notice: str) -> None:
    process, _, started_at = wedged("both")
    started = time.monotonic()

    assert wait_unless_stuck(process, stuck_after=1, started_at=started_at) == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_a_child_that_exits_has_its_own_status_returned(exit_notice: str) -> None:
    started_at = since_boot()
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(1.5); sys.exit(3)"])

    assert wait_unless_stuck(child, stuck_after=1, started_at=started_at) == 3
