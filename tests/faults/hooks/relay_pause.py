"""The relay with a pause (``python -m tests.faults.hooks.relay_pause``): while the trigger
``pause-before-mark`` exists, a batch RabbitMQ has confirmed is announced (``confirmed.<pid>``: the first
and last seq) and held before its rows are marked published."""

from __future__ import annotations

from adapters.postgres.outbox import OutboxStore
from tests.faults.hooks.files import announce, hold_while, triggered
from tests.faults.hooks.names import CONFIRMED, PAUSE_BEFORE_MARK

_mark_published = OutboxStore.mark_published


def _paused_mark_published(store: OutboxStore, seqs: list[int]) -> None:
    if seqs and triggered(PAUSE_BEFORE_MARK):
        announce(CONFIRMED, f"{min(seqs)} {max(seqs)}")
        hold_while(PAUSE_BEFORE_MARK)
    _mark_published(store, seqs)


if __name__ == "__main__":
    from workers.cli import main

    OutboxStore.mark_published = _paused_mark_published  # type: ignore[method-assign,assignment]
    main(["relay"])
