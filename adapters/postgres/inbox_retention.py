"""Deleting inbox rows past their retention: the message ids remembered for idempotency.

The inbox gains a row for every command message and nothing else removes one, so it grows with the
traffic. A row's only use is to make a later delivery of its message a duplicate, and to mark its id as
spent for ``dlq replay``: once its message can no longer come back (RabbitMQ's redeliveries, dead letters
kept 7 days), it only costs disk and index pages.

No index covers ``processed_at``: one would cost every command an index insert. The table is walked
instead in ranges of physical blocks (a TID range scan each), each range deleted in a short transaction
of its own on one connection, so that the whole pass reads the table once, whatever it holds, and never
holds long locks.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, Engine, text

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
    deleted = 0
    with engine.connect() as connection:
        blocks = int(connection.execute(_BLOCKS).scalar_one())
        connection.commit()
        for first in range(0, blocks, blocks_per_batch):
            with connection.begin():
                deleted += prune_blocks(connection, first, first + blocks_per_batch, older_than)
    return deleted


def prune_blocks(connection: Connection, first: int, end: int, older_than: timedelta) -> int:
    """Deletes the rows older than ``older_than`` stored in blocks ``first`` to ``end`` (excluded)."""
    bounds = {"first": f"({first},0)", "end": f"({end},0)"}  # no row has offset 0: (n,0) opens block n
    return connection.execute(_PRUNE_RANGE, {**bounds, "seconds": older_than.total_seconds()}).rowcount
