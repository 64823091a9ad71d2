"""The stop flag that SIGTERM and SIGINT set without taking a lock."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from workers.stopping import SignalStop, stopped_by


@pytest.fixture
def usr1_handler_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, previous)


def test_wait_times_out_unset_and_answers_true_once_set() -> None:
    stop = SignalStop()
    started = time.monotonic()
    assert stop.wait(0.12) is False
    assert time.monotonic() - started >= 0.12
    stop.set()
    assert stop.wait(0) is True
    assert stop.is_set()


def test_a_thread_sees_the_flag_another_thread_set() -> None:
    stop = SignalStop()
    setter = threading.Timer(0.1, stop.set)
    setter.start()
    assert stop.wait(10.0) is True
    setter.join()


@pytest.mark.usefixtures("usr1_handler_restored")
def test_signals_set_it_even_many_at_once_while_the_main_thread_waits() -> None:
    stop = SignalStop().install([signal.SIGUSR1])

    def signal_many_times() -> None:
        for _ in range(50):
            os.kill(os.getpid(), signal.SIGUSR1)

    sender = threading.Timer(0.05, signal_many_times)
    sender.start()
    assert stop.wait(10.0) is True
    sender.join()


@pytest.mark.usefixtures("usr1_handler_restored")
def test_stopped_by_sets_its_flag_on_the_signal_and_puts_the_handler_before_it_back() -> None:
    received: list[int] = []
    signal.signal(signal.SIGUSR1, lambda signum, _frame: received.append(signum))

    with stopped_by([signal.SIGUSR1]) as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert stop.wait(10.0) is True
    os.kill(os.getpid(), signal.SIGUSR1)

    assert received == [signal.SIGUSR1]  # the second signal only, once the block had ended
