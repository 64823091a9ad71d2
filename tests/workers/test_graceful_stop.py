"""A worker process that is sent SIGTERM twice (by its supervisor and by Dramatiq's parent) stops once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from workers.middleware import GracefulStop


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


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
