"""``ix_outbox_rejected_message_id``: the CommandRejected of a message id, found without reading the outbox.

``dlq ls``, ``dlq show`` and ``dlq replay`` give each dead letter's reason from the CommandRejected event
recorded for its message id (``adapters.postgres.rejections``). Nothing indexed the message id in an
event's body, so each lookup of up to 1,000 ids read the whole outbox, published rows included, which
stay until ``outbox prune`` (7 days by default). Among 1,000,000 events (391 MB, all in memory), one of
them a hundred a CommandRejected, a lookup of 1,000 ids took 203 ms, reading every row; 8.6 ms with this
index, of 320 kB. The index holds the CommandRejected rows alone, so the events of applied commands,
nearly all of them, cost it nothing but the check of their type.

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
