"""The latency's percentiles count every share sent: one whose event never arrived is the latest."""

from __future__ import annotations

import math

from bench.latency import Arrival, latencies_ms
from bench.stats import percentile


def _arrived(due: float, after_ms: float) -> tuple[tuple[float, float, float], Arrival]:
    arrival = Arrival({"occurred_at": "2026-01-01T00:00:00+00:00"})
    arrival.at = due + after_ms / 1000
    return (due, 0.0, 0.0), arrival


def test_an_event_never_received_counts_as_later_than_any_received() -> None:
    matched = [_arrived(float(index), 4.0) for index in range(98)]
    sent = {(f"doc-{index}", "bob"): moments for index, (moments, _) in enumerate(matched)}
    sent |= {("doc-lost-1", "bob"): (98.0, 0.0, 0.0), ("doc-lost-2", "bob"): (99.0, 0.0, 0.0)}

    latencies = latencies_ms(sent, matched)

    assert len(latencies) == 100
    assert math.isclose(percentile(latencies, 0.50), 4.0)
    assert percentile(latencies, 0.99) == math.inf
