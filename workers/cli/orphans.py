"""What a supervised command leaves behind: its process group, stopped and reaped (``docfleet supervise``)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable

from workers.cli.procfs import GONE, PROC, every_stat

# prctl(2) options; Linux only. Python's standard library has no binding for either.
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_POLL_S = 0.05
_KILLED_WITHIN_S = 5.0  # a SIGKILLed process is gone at once; a bound all the same


def adopt_orphans() -> None:
    """Makes this process the parent of its descendants' orphans, so that it can reap them and tell
    when they are gone (Linux); elsewhere they go to init as usual."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def stop_with_parent() -> None:
    """In the child, before it runs the command: SIGTERM when the supervisor dies (Linux), so that a
    killed supervisor leaves no fleet running unsupervised. It drains, unless it was told to stop
    already: Dramatiq's workers take a second SIGTERM for "stop now" (their messages come again)."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def signal_group(group: int, signum: int) -> bool:
    """Sends ``signum`` to the process group; whether it still had a process of ours (a zombie counts)."""
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):  # gone; or its id reused by another user's processes
        return False
    return True


def stop_group(group: int, grace_s: float, hurry: Callable[[], bool] = lambda: False) -> int:
    """Stops what is left of the process group: SIGTERM, then SIGKILL after ``grace_s``, or as soon as
    ``hurry`` says so (a stop signal came meanwhile); returns how many processes were left (0 when the
    group had ended with its leader, the usual case)."""
    _reap()
    left = _members(group)
    if not left:
        return 0
    signal_group(group, signal.SIGTERM)
    _wait_until_gone(group, time.monotonic() + grace_s, hurry)
    if _members(group):
        signal_group(group, signal.SIGKILL)
        _wait_until_gone(group, time.monotonic() + _KILLED_WITHIN_S)
    _reap()
    return len(left)


def _wait_until_gone(group: int, deadline: float, hurry: Callable[[], bool] = lambda: False) -> None:
    """Reaps the group's processes as they exit, until none is left, ``deadline`` or ``hurry``."""
    while _members(group) and time.monotonic() < deadline and not hurry():
        time.sleep(_POLL_S)
        _reap()


def _members(group: int) -> list[int]:
    """The group's processes that have not exited: from /proc where there is one (zombies left out),
    otherwise whether the group answers a signal at all."""
    if not (PROC / "self").is_dir():
        return [group] if signal_group(group, 0) else []
    return [pid for pid, fields in every_stat() if int(fields[2]) == group and fields[0] not in GONE]


def _reap() -> None:
    """Collects the exit of every child of this process that has ended (adopted orphans among them)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
