"""Group commit's transactions, counted by the composition root: how many commands each one carried."""

from __future__ import annotations

from collections.abc import Callable

from workers.metrics.worker import current


def counting_transactions() -> Callable[[int, str], None] | None:
    """``GroupCommit``'s ``on_transaction`` hook, or None outside a worker with metrics installed."""
    metrics = current()
    if metrics is None:
        return None
    observed = metrics.group_commits

    def count(commands: int, how: str) -> None:
        observed.labels(how).observe(commands)

    return count
