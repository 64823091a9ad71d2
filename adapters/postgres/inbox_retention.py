"""Deleting inbox rows past their retention: the message ids remembered for idempotency.

The inbox gains a row for every command message and nothing else removes one, so it grows with the
traffic. A row's only use is to make a second delivery of its message a duplicate, and RabbitMQ
delivers a message again within minutes (a lost connection, a retry), so ids older than a few days
only cost disk and index pages.

No index covers ``processed_at``: one would cost every command an index insert. The table is walked
instead in ranges of physical blocks (a TID range scan), each range one short transaction, so that the
whole pass reads the table once, whatever it holds, and never holds long locks.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

_BLOCKS = text("SELECT pg_relation_size('inbox') / current_setting('block_size')::int")
_PRUNE_RANGE = text(
    "DELETE FROM inbox WHERE ctid >= CAST(:first AS tid) AND ctid < CAST(:end AS tid)"
    " AND processed_at < now() - make_interval(secs => :seconds)"
)
BLOCKS_PER_BATCH = 512  # 4 MiB of the table a transaction


def prune_processed(
    engine: Engine, older_than: timedelta, *, blocks_per_batch: int = BLOCKS_PER_BATCH
) -> int:
    """Deletes the inbox rows of messages processed more than ``older_than`` ago; how many."""
    with engine.connect() as connection:
        blocks = int(connection.execute(_BLOCKS).scalar_one())
    deleted = 0
    for first in range(0, blocks, blocks_per_batch):
        with engine.begin() as connection:
            bounds = {"first": f"({first},0)", "end": f"({first + blocks_per_batch},0)"}
            parameters = {**bounds, "seconds": older_than.total_seconds()}
            deleted += connection.execute(_PRUNE_RANGE, parameters).rowcount
    return deleted
