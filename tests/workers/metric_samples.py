"""Reading one value of a prometheus_client metric in a test, by its sample's suffix and labels."""

from __future__ import annotations

from typing import Any


def sample(metric: Any, suffix: str, **labels: str) -> float:
    """The value of ``metric``'s sample named with ``suffix`` ("_total", "_count", "" for a gauge) and
    carrying exactly ``labels`` (``le`` included for a bucket); 0 when it has none such."""
    [family] = metric.collect()
    name = family.name + suffix
    return float(sum(s.value for s in family.samples if s.name == name and s.labels == labels))
