"""``inbox.fingerprint``: a digest of the command whose outcome spent the message id.

A message sent under an id that a different command already spent was taken for a duplicate and acked:
its command was never carried out, and nothing said so. The inbox now keeps, beside each id, the
fingerprint of the command that spent it (``domain.commands.fingerprint``), and a message whose command's
fingerprint differs is rejected as ``message_id_reused`` and dead-lettered instead (docs/contract.md §4).

Rows written before this migration hold null: such an id is compared with nothing, and a message sent
again under it is a duplicate, as before. The rows of rejections as invalid (no command could be read
from the message) held null too until 62a8dc9, and since then a mark no command's fingerprint equals
(``domain.commands.NO_COMMAND``). The table is locked only for a moment: adding a
nullable column without a default rewrites nothing.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("fingerprint", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("inbox", "fingerprint")
