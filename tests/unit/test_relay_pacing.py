"""The relay's pacing: at once while quiet, batches a window apart while busy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.relay_pacing import Pacing

PACING = Pacing(busy_batch=8, window=0.02)


def test_a_quiet_relay_publishes_the_next_event_at_once() -> None:
    assert PACING.pause(published=7, batch_started=100.0, now=100.001) == 0.0
    assert PACING.pause(published=0, batch_started=100.0, now=100.001) == 0.0


def test_a_busy_relay_starts_its_next_batch_a_window_after_the_last_one_started() -> None:
    assert PACING.pause(published=8, batch_started=100.0, now=100.005) == pytest.approx(0.015)
    assert PACING.pause(published=300, batch_started=100.0, now=100.0) == 0.02


def test_a_batch_that_outlasted_the_window_is_followed_at_once() -> None:
    assert PACING.pause(published=50, batch_started=100.0, now=100.03) == 0.0


def test_a_window_of_zero_never_waits() -> None:
    assert Pacing(busy_batch=1, window=0.0).pause(published=500, batch_started=100.0, now=100.0) == 0.0


@given(
    published=st.integers(min_value=0, max_value=10_000),
    elapsed=st.floats(min_value=0.0, max_value=10.0),
    window=st.floats(min_value=0.0, max_value=1.0),
)
def test_the_pause_never_exceeds_the_window_nor_ends_it_early(
    published: int, elapsed: float, window: float
) -> None:
    pause = Pacing(busy_batch=8, window=window).pause(published, batch_started=0.0, now=elapsed)
    assert 0.0 <= pause <= window
    if published >= 8 and pause > 0:
        assert elapsed + pause == pytest.approx(window)
