"""A supervised command stuck for good, told from outside through ``/proc`` (Linux; never elsewhere).

Dramatiq's main process waits for each worker process to come up on a ``multiprocessing`` Event, with
its stop signals blocked. A worker process killed while it sets that Event leaves the Event's lock held,
and the wait never returns, whatever its timeout (docs/reliability.md, "A worker process killed as it
comes up"): the main process logs nothing, takes no SIGTERM, and notices no death of its processes.
From outside it shows as two things at once: it blocks SIGTERM, and a process it started has died and
is left unreaped (a zombie). Each alone is normal for a while: the boot's wait is bounded by Dramatiq's
``--worker-fork-timeout`` (30 s by default), and the main process reaps a dead worker process within a
second of that wait's end. Both for longer than that is a process that will never move again.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

log = structlog.get_logger("docfleet.supervise")

WATCH_EVERY_S = 1.0
_PROC = Path("/proc")
_SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def wait_unless_stuck(child: subprocess.Popen[bytes], stuck_after: float) -> int:
    """The child's exit status, once it has exited; killed first if it stays stuck for ``stuck_after``
    seconds (0: never)."""
    if stuck_after <= 0:
        return child.wait()
    watch = StuckWatch(child.pid, stuck_after)
    with _exit_notice(child) as exited:
        while not exited(WATCH_EVERY_S):
            now = time.monotonic()
            if watch.is_stuck(now):
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
        yield lambda timeout: bool(select.select([pidfd], [], [], timeout)[0])
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
    has lain dead, both without a break, for ``stuck_after`` seconds. One supervisor thread asks it."""

    def __init__(self, pid: int, stuck_after: float) -> None:
        self._pid = pid
        self._stuck_after = stuck_after
        self._since: float | None = None

    def is_stuck(self, now: float) -> bool:
        if not (blocks_sigterm(self._pid) and dead_children(self._pid)):
            self._since = None
            return False
        if self._since is None:
            self._since = now
        return now - self._since >= self._stuck_after

    def stuck_for(self, now: float) -> float:
        return 0.0 if self._since is None else now - self._since


def blocks_sigterm(pid: int) -> bool:
    """Whether the process's main thread has SIGTERM blocked; False once it is gone."""
    try:
        status = (_PROC / str(pid) / "status").read_text()
    except OSError:  # gone, or no /proc here
        return False
    for line in status.splitlines():
        if line.startswith("SigBlk:"):
            return bool(int(line.split()[1], 16) & _SIGTERM_BIT)
    return False


def dead_children(pid: int) -> list[int]:
    """The process's children that have exited and that it has not reaped (zombies)."""
    return [child for child in _children(pid) if _state(child) == "Z"]


def _children(pid: int) -> list[int]:
    """Children of any of the process's threads (``/proc/PID/task/TID/children``)."""
    children: list[int] = []
    try:
        for task in (_PROC / str(pid) / "task").iterdir():
            children.extend(int(child) for child in (task / "children").read_text().split())
    except OSError:  # gone meanwhile, or a kernel without the children files
        return []
    return children


def _state(pid: int) -> str:
    """The process's state letter (``R``, ``S``, ``Z``...), or "" once it is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]  # after the name, which may hold spaces and parentheses
