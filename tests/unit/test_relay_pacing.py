"""The relay's pacing: at once while quiet, batches a window apart while busy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.relay_pacing import Pacing

PACING = Pacing(busy_batch=8, busy_rate=1000.0, window=0.02)
NO_BATCH_BEFORE = float("-inf")


def test_a_quiet_relay_publishes_the_next_event_at_once() -> None:
    assert PACING.pause(published=7, previous_started=99.999, batch_started=100.0, now=100.001) == 0.0
    assert PACING.pause(published=0, previous_started=99.0, batch_started=100.0, now=100.001) == 0.0


def test_a_busy_relay_starts_its_next_batch_a_window_after_the_last_one_started() -> None:
    # 8 events in 5 ms: 1,600 a second
    assert PACING.pause(8, previous_started=99.995, batch_started=100.0, now=100.005) == pytest.approx(0.015)
    assert PACING.pause(300, previous_started=99.98, batch_started=100.0, now=100.0) == pytest.approx(0.02)


def test_a_large_batch_gathered_slowly_is_not_busy() -> None:
    # 16 events over 80 ms (200 a second): a stall at a low load, not a busy relay
    assert PACING.pause(16, previous_started=99.92, batch_started=100.0, now=100.001) == 0.0


def test_the_first_batch_is_never_busy() -> None:
    assert PACING.pause(400, previous_started=NO_BATCH_BEFORE, batch_started=100.0, now=100.001) == 0.0


def test_a_batch_that_outlasted_the_window_is_followed_at_once() -> None:
    assert PACING.pause(50, previous_started=99.99, batch_started=100.0, now=100.03) == 0.0


def test_a_window_of_zero_never_waits() -> None:
    pacing = Pacing(busy_batch=1, busy_rate=1.0, window=0.0)
    assert pacing.pause(500, previous_started=99.99, batch_started=100.0, now=100.0) == 0.0


@given(
    published=st.integers(min_value=0, max_value=10_000),
    gathered_over=st.floats(min_value=0.0001, max_value=10.0),
    elapsed=st.floats(min_value=0.0, max_value=10.0),
    window=st.floats(min_value=0.0, max_value=1.0),
)
def test_the_pause_never_exceeds_the_window_nor_ends_it_early(
    published: int, gathered_over: float, elapsed: float, window: float
) -> None:
    pacing = Pacing(busy_batch=8, busy_rate=1000.0, window=window)
    pause = pacing.pause(published, previous_started=-gathered_over, batch_started=0.0, now=elapsed)
    assert 0.0 <= pause <= window
    if pause > 0:
        assert published >= 8
        assert published / gathered_over >= 1000.0
        assert elapsed + pause == pytest.approx(window)
