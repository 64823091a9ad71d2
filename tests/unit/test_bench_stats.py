"""The benchmark's arithmetic: steady rates between 10 and 90 % of completions, commands per transaction."""

from __future__ import annotations

import math

import pytest

from bench.stats import from_timestamps, per_transaction, steady_rate


def test_the_steady_rate_leaves_out_the_boot_and_the_tail() -> None:
    boot = [0.0]  # one completion, then a 10 s pause, then 100 a second
    steady = [10.0 + index / 100 for index in range(99)]
    assert steady_rate(from_timestamps(boot + steady), total=100) == pytest.approx(100.0, rel=0.02)


def test_a_rate_sampled_from_past_its_low_mark_counts_only_what_followed_the_first_sample() -> None:
    steady = [(index / 10, 3_000 + 100 * index) for index in range(80)]  # 1,000 a second, from 30 %

    assert steady_rate(steady, total=10_000) == pytest.approx(1_000.0, rel=0.01)


def test_commands_per_transaction_counts_the_distinct_start_times_in_the_window() -> None:
    sizes = [1, *[8] * 50, 1]  # lone commands at both ends, outside the window
    times = [float(start) for start, size in enumerate(sizes) for _ in range(size)]
    assert per_transaction(times) == pytest.approx(8.0, rel=0.05)  # a batch cut by each edge
    assert per_transaction([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]) == 1.0


def test_commands_per_transaction_of_nothing_is_not_a_number() -> None:
    assert math.isnan(per_transaction([]))
