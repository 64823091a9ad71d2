"""Stopping a long-running process on SIGTERM or SIGINT, from a signal handler that takes no lock.

A Python signal handler runs in the main thread, between two bytecodes of whatever it interrupted. A
handler calling ``threading.Event.set`` needs the event's lock, which the interrupted code may hold: the
main thread waiting on that event, or the handler of an earlier signal (a process group's SIGTERM and
Dramatiq's own, a moment apart). The process then hangs on shutdown, as the worker metrics process did.
``SignalStop`` only writes a boolean from the handler, and ``wait`` polls it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from types import FrameType
from typing import Protocol, Self

POLL_S = 0.05
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops the relay and the audit consumer cleanly. SIGHUP is a reload elsewhere (Dramatiq's): here
it is a stop, after which the supervisor or the platform starts the command again."""


class StopFlag(Protocol):
    """What a long-running loop asks of its stop signal; ``threading.Event`` is one too."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class SignalStop:
    """A stop flag set by SIGTERM or SIGINT (``install``) or by ``set``; safe to read from any thread."""

    def __init__(self) -> None:
        self._requested = False

    def install(self, signums: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> Self:
        for signum in signums:
            signal.signal(signum, self._on_signal)
        return self

    def set(self) -> None:
        self._requested = True

    def is_set(self) -> bool:
        return self._requested

    def wait(self, timeout: float | None = None) -> bool:
        """True once set, or False after ``timeout`` seconds; checks every ``POLL_S``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._requested:
            left = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            if left <= 0:
                break
            time.sleep(left)
        return self._requested

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._requested = True  # a plain store: nothing here may wait for a lock
