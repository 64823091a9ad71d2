"""A worker process that is sent SIGTERM twice (by its supervisor and by Dramatiq's parent) stops once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from workers.middleware import GracefulStop


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("restore_sigterm")
def test_a_second_sigterm_does_not_reach_dramatiqs_kill_path() -> None:
    calls: list[int] = []

    def dramatiq_handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)  # the first call stops gracefully, a second would kill the process

    signal.signal(signal.SIGTERM, dramatiq_handler)
    GracefulStop().after_process_boot(broker=None)  # type: ignore[arg-type]
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)

    handler(signal.SIGTERM, None)
    handler(signal.SIGTERM, None)

    assert calls == [signal.SIGTERM]


@pytest.mark.usefixtures("restore_sigterm")
def test_a_sigterm_during_a_reloads_drain_does_not_reach_dramatiqs_kill_path() -> None:
    """Dramatiq's worker process stops on SIGHUP as on SIGTERM (its main process then boots new ones)."""
    calls: list[int] = []

    def dramatiq_handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    signal.signal(signal.SIGTERM, dramatiq_handler)
    signal.signal(signal.SIGHUP, dramatiq_handler)
    GracefulStop().after_process_boot(broker=None)  # type: ignore[arg-type]
    on_hup, on_term = signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGTERM)
    assert callable(on_hup)
    assert callable(on_term)

    on_hup(signal.SIGHUP, None)
    on_term(signal.SIGTERM, None)

    assert calls == [signal.SIGHUP]
