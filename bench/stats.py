"""Steady-state rates, percentiles and medians."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Sample = tuple[float, int]  # (seconds, completions so far)


def steady_rate(samples: Sequence[Sample], total: int, low: float = 0.1, high: float = 0.9) -> float:
    """Completions per second between ``low`` and ``high`` of ``total`` (boot and tail excluded). If the
    first sample is already past ``low`` (sampling began late), the window starts at that sample: when
    the count crossed ``low`` is unknown, and assuming it would overstate the rate."""
    first = max(low * total, samples[0][1])
    start, end = crossing(samples, first), crossing(samples, high * total)
    if end <= start:
        return float("nan")
    return (high * total - first) / (end - start)


def crossing(samples: Sequence[Sample], count: float) -> float:
    """When the count reached ``count``, interpolated between the samples around it."""
    previous = samples[0]
    for sample in samples:
        if sample[1] >= count:
            if sample[1] == previous[1]:
                return sample[0]
            share = (count - previous[1]) / (sample[1] - previous[1])
            return previous[0] + share * (sample[0] - previous[0])
        previous = sample
    return samples[-1][0]


def from_timestamps(times: Sequence[float]) -> list[Sample]:
    """One sample per completion, from the completion times."""
    ordered = sorted(times)
    return [(ordered[0], 0), *((moment, index + 1) for index, moment in enumerate(ordered))]


def per_transaction(times: Sequence[float], low: float = 0.1, high: float = 0.9) -> float:
    """Completions per transaction between ``low`` and ``high`` of them, from their transactions' start
    times (``inbox.processed_at`` is ``now()``, the same for every message a group commit carried)."""
    ordered = sorted(times)
    window = ordered[int(low * len(ordered)) : int(high * len(ordered))]
    return len(window) / len(set(window)) if window else float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    present = [value for value in values if value == value]  # drops NaN
    return statistics.median(present) if present else float("nan")
