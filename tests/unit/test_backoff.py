from __future__ import annotations

from workers.backoff import Backoff


def test_each_delay_doubles_the_last_up_to_the_maximum() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_reset_starts_over_from_the_first_delay() -> None:
    backoff = Backoff(0.5, 3.0)
    backoff.next_delay(), backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5
