"""Reading one value of a prometheus_client metric in a test, by its sample's suffix and labels."""

from __future__ import annotations

from typing import Any


def served(metric: Any, suffix: str, **labels: str) -> float | None:
    """The value of ``metric``'s sample named with ``suffix`` ("_total", "_count", "" for a gauge) and
    carrying exactly ``labels`` (``le`` included for a bucket); None when it serves no such series."""
    [family] = metric.collect()
    name = family.name + suffix
    found = [s.value for s in family.samples if s.name == name and s.labels == labels]
    return float(sum(found)) if found else None


def sample(metric: Any, suffix: str, **labels: str) -> float:
    """As ``served``, but 0 when there is no such series."""
    return served(metric, suffix, **labels) or 0.0
