"""A supervised command stuck for good, told from outside through ``/proc`` (Linux; never elsewhere).

Dramatiq's main process waits for each worker process to come up on a ``multiprocessing`` Event, with
its stop signals blocked. A worker process killed while it sets that Event leaves the Event's lock held,
and the wait never returns, whatever its timeout (docs/reliability.md, "A worker process killed as it
comes up"): the main process logs nothing, takes no SIGTERM, and notices no death of its processes.
From outside it shows as two things at once: it blocks SIGTERM, and a process it started during that
block has died and is left unreaped (a zombie). Each alone is normal for a while. The boot's wait gives
each worker process in turn up to Dramatiq's ``--worker-fork-timeout`` (30 s by default) and stops at
the first that times out, so with boots of a few seconds the signals are blocked for about one timeout
at most, and the block ends right after that wait, whatever became of the worker processes.
A zombie started before the block began is not one of this boot's worker processes: Dramatiq's reload
(SIGHUP) execs in place and leaves the fork processes of the run before unreaped, for good. So only a
process started after the last look that found SIGTERM unblocked counts (the watch's start, at first).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog

from workers.cli.procfs import PROC, every_stat

log = structlog.get_logger("docfleet.supervise")

WATCH_EVERY_S = 1.0
STOPPING_STUCK_AFTER_S = 3.0
"""The wait while a stop is under way: a SIGTERM forwarded to a stuck process stays pending, and
honcho kills what is left 5 s after the first of its processes exits, which would leave the stuck process
running unsupervised."""
_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01  # /proc's start times' unit
_SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def wait_unless_stuck(
    child: subprocess.Popen[bytes],
    stuck_after: float,
    started_at: float,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """The child's exit status, once it has exited; killed first if it stays stuck for ``stuck_after``
    seconds (0: never), or for ``STOPPING_STUCK_AFTER_S`` once ``stopping``. ``started_at``: the
    ``since_boot()`` of a moment before the child was started."""
    if stuck_after <= 0:
        return child.wait()
    watch = StuckWatch(child.pid, stuck_after, started_at)
    with _exit_notice(child) as exited:
        while not exited(WATCH_EVERY_S):
            now = time.monotonic()
            if watch.is_stuck(now, stopping=stopping()):
                log.error(
                    "supervised command stuck",
                    pid=child.pid,
                    stuck_for_s=round(watch.stuck_for(now), 1),
                    reason="it blocks SIGTERM while a process it started lies dead and unreaped",
                    action="killed: it exits as a failure, 137",
                )
                child.kill()
                break
    return child.wait()


@contextmanager
def _exit_notice(child: subprocess.Popen[bytes]) -> Iterator[Callable[[float], bool]]:
    """``exited(timeout)``: whether the child has exited, waiting up to ``timeout`` seconds. Through a
    pidfd, which sleeps until then (Linux); else through ``Popen.wait``, which polls every 50 ms."""
    try:
        pidfd = os.pidfd_open(child.pid)
    except (AttributeError, OSError):  # not Linux, or the child already reaped
        yield lambda timeout: _popen_exited(child, timeout)
        return
    try:
        if child.poll() is not None:  # reaped before the pidfd was opened: its pid may be another's now
            yield lambda _timeout: True
        else:
            exits = select.poll()
            exits.register(pidfd, select.POLLIN)
            yield lambda timeout: bool(exits.poll(timeout * 1000))
    finally:
        os.close(pidfd)


def _popen_exited(child: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


class StuckWatch:
    """Asked from time to time, says whether ``pid`` has blocked SIGTERM while a process it started
    during that block has lain dead, both without a break, for ``stuck_after`` seconds. One supervisor
    thread asks it."""

    def __init__(self, pid: int, stuck_after: float, started_at: float) -> None:
        self._pid = pid
        self._stuck_after = stuck_after
        self._since: float | None = None
        self._unblocked_at = started_at  # when SIGTERM was last known unblocked (``since_boot``)

    def is_stuck(self, now: float, stopping: bool = False) -> bool:
        if not self._blocked_with_a_dead_child():
            self._since = None
            return False
        if self._since is None:
            self._since = now
        limit = min(self._stuck_after, STOPPING_STUCK_AFTER_S) if stopping else self._stuck_after
        return now - self._since >= limit

    def stuck_for(self, now: float) -> float:
        return 0.0 if self._since is None else now - self._since

    def _blocked_with_a_dead_child(self) -> bool:
        looked_at = since_boot()
        if not blocks_sigterm(self._pid):
            self._unblocked_at = looked_at
            return False
        # a start time is rounded down to a clock tick
        return any(started >= self._unblocked_at - _TICK_S for started in dead_children(self._pid).values())


def blocks_sigterm(pid: int) -> bool:
    """Whether the process's main thread has SIGTERM blocked; False once it is gone."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:  # gone, or no /proc here
        return False
    for line in status.splitlines():
        if line.startswith("SigBlk:"):
            return bool(int(line.split()[1], 16) & _SIGTERM_BIT)
    return False


def dead_children(pid: int) -> dict[int, float]:
    """The process's children that have exited and that it has not reaped (zombies), each with when
    it started, in seconds since boot. A scan of ``/proc``: no kernel option needed."""
    return {
        child: int(fields[19]) * _TICK_S  # the start time, in clock ticks
        for child, fields in every_stat()
        if fields[0] == "Z" and int(fields[1]) == pid
    }


def since_boot() -> float:
    """Seconds since the machine booted, the clock of the start times ``/proc`` gives (Linux; elsewhere,
    where nothing is ever stuck, a monotonic clock)."""
    boot_time = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boot_time) if boot_time is not None else time.monotonic()
