"""The relay's pacing: at once while events come slowly, batches a window apart while they come fast."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.relay_pacing import Pacing


def paced(batches: list[tuple[float, int]], *, busy_rate: float = 1000.0, window: float = 0.02) -> Pacing:
    """A pacing that has noted these (started, events) batches, in order."""
    pacing = Pacing(busy_rate, window)
    for started, events in batches:
        pacing.note(events, started)
    return pacing


def test_events_at_200_a_second_go_out_at_once() -> None:
    pacing = paced([(100.0 + n * 0.005, 1) for n in range(40)])
    assert pacing.rate() == pytest.approx(200.0)
    assert pacing.pause(now=100.196) == 0.0


def test_events_at_1600_a_second_start_the_next_batch_a_window_after_the_last() -> None:
    pacing = paced([(100.0 + n * 0.005, 8) for n in range(40)])
    assert pacing.rate() == pytest.approx(1600.0)
    assert pacing.pause(now=100.2) == pytest.approx(0.015)


def test_a_batch_grown_large_while_the_relay_was_held_up_is_counted_at_its_own_rate() -> None:
    # 200 a second, then 400 ms without a batch: the next one holds 80 events, which came at 200 a second
    pacing = paced([*[(100.0 + n * 0.005, 1) for n in range(21)], (100.5, 80)])
    assert pacing.rate() == pytest.approx(200.0)
    assert pacing.pause(now=100.501) == 0.0


def test_the_rate_is_counted_over_the_last_tenth_of_a_second_at_least() -> None:
    pacing = paced([(100.0, 0), (100.001, 500), *[(100.2 + n * 0.01, 1) for n in range(20)]])
    assert pacing.rate() == pytest.approx(100.0)


def test_the_first_batch_is_never_busy() -> None:
    assert paced([(100.0, 400)]).pause(now=100.001) == 0.0


def test_a_batch_that_outlasted_the_window_is_followed_at_once() -> None:
    pacing = paced([(100.0 + n * 0.005, 8) for n in range(40)])
    assert pacing.pause(now=100.22) == 0.0


def test_a_window_of_zero_never_waits() -> None:
    pacing = paced([(100.0 + n * 0.001, 50) for n in range(40)], window=0.0)
    assert pacing.pause(now=100.039) == 0.0


@given(
    batches=st.lists(
        st.tuples(st.floats(min_value=0.0001, max_value=0.5), st.integers(min_value=0, max_value=500)),
        min_size=1,
        max_size=60,
    ),
    elapsed=st.floats(min_value=0.0, max_value=1.0),
)
def test_the_pause_never_exceeds_the_window_and_only_a_busy_relay_waits(
    batches: list[tuple[float, int]], elapsed: float
) -> None:
    pacing, started = Pacing(busy_rate=1000.0, window=0.02), 0.0
    for gap, events in batches:
        started += gap
        pacing.note(events, started)
    pause = pacing.pause(now=started + elapsed)
    assert 0.0 <= pause <= 0.02
    if pause > 0:
        assert pacing.rate() >= 1000.0
        assert elapsed + pause == pytest.approx(0.02)
