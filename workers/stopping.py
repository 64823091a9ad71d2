"""Stopping a long-running process on a signal (SIGTERM, SIGINT...), from a handler that takes no lock.

A Python signal handler runs in the main thread, between two bytecodes of whatever it interrupted. A
handler calling ``threading.Event.set`` needs the event's lock, which the interrupted code may hold: the
main thread waiting on that event, or the handler of an earlier signal (a process group's SIGTERM and
Dramatiq's own, a moment apart). The process then hangs on shutdown, as the worker metrics process did.
``SignalStop`` only writes a boolean from the handler, and ``wait`` polls it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol, Self

POLL_S = 0.05
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops the relay, the audit consumer and the worker metrics process cleanly. SIGHUP is Dramatiq's
reload: each of these stops on it, and is started again by whatever runs it (the supervisor under
``--restart always``, the platform, or Dramatiq's reload for the metrics process)."""


class StopFlag(Protocol):
    """What a long-running loop asks of its stop signal; ``threading.Event`` is one too."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class SignalStop:
    """A stop flag set by the signals ``install`` is given (SIGTERM and SIGINT by default) or by ``set``;
    safe to read from any thread."""

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


@contextmanager
def stopped_by(signums: Iterable[signal.Signals] = STOP_SIGNALS) -> Iterator[SignalStop]:
    """A ``SignalStop`` for the block, with the handlers it replaced put back after: for a command that
    may run inside another program's process (a test's), whose own handlers must outlive it."""
    wanted = tuple(signums)
    replaced = {signum: signal.getsignal(signum) for signum in wanted}
    try:
        yield SignalStop().install(wanted)
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
