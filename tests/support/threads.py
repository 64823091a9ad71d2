"""Threads released together, switching as often as the interpreter allows, whose exceptions a test sees."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

JOIN_TIMEOUT_S = 30.0


@contextmanager
def switching_often(interval_s: float = 1e-6) -> Iterator[None]:
    """Makes the interpreter hand the GIL between threads far more often than its default 5 ms, so that
    an unguarded read-modify-write is interrupted within a few calls rather than once in a thousand runs."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval_s)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_together(work: Callable[[int], None], count: int) -> list[BaseException]:
    """Runs ``work(0)`` ... ``work(count - 1)`` each on a thread of its own, all released at once by a
    barrier, and returns what they raised: an exception in a thread would otherwise only be a warning."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(JOIN_TIMEOUT_S)
            work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return errors
