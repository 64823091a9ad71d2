"""``ix_outbox_rejected_message_id``: the CommandRejected of a message id, found without reading the outbox.

``dlq ls``, ``dlq show`` and ``dlq replay`` give each dead letter's reason from the CommandRejected event
recorded for its message id (``adapters.postgres.rejections``), one lookup per dead letter. Nothing
indexed the message id in an event's body, so each lookup read the whole outbox, published rows
included, which stay until ``outbox prune`` (7 days by default). Among 1,000,000 events (411 MB, all in
memory), one in a hundred a CommandRejected: 91 to 119 ms a lookup, reading every row, so about 20 s for
a ``dlq ls`` of 200 letters; 0.2 to 0.6 ms with this index, of 728 kB (uuid message ids). The index
holds the CommandRejected rows alone, so the events of applied commands, nearly all of them, cost it
nothing but the check of their type.

Building it holds the outbox's writes, every command's commit among them, until it is built: about
0.14 s a million rows here. Run ``docfleet outbox prune`` first, or migrate at a quiet moment.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_rejected_message_id",
        "outbox",
        [sa.text("(payload ->> 'message_id')")],
        postgresql_where=sa.text("type = 'CommandRejected'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_rejected_message_id", table_name="outbox")
