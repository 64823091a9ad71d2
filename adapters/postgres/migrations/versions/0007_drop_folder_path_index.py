"""``ix_folders_path`` is dropped: no query reads it, and it made deep folders impossible to create.

A folder's ``path`` lists the ids from its organization's root (``domain.model.Folder``). A btree index
refuses a row over about 2.7 kB, so a folder nested about 21 deep with ids of 128 characters (about 70
deep with UUIDs) could not be inserted: Postgres raised an error the command could not mend, and the
message was retried until it was dead-lettered, where the contract sets no limit on depth. Nothing reads
folders by path, so the index only cost each folder created an insert into it; a subtree query would
need an index of its own that bounds what it holds.

The downgrade brings the index back over the paths of at most 2,000 bytes alone: once this revision ran,
deeper folders may exist, and an index over every path could not be built. No query reads it, so an
index that leaves the longest paths out changes nothing for the version downgraded to, except that it
too can now create deep folders.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("ix_folders_path", table_name="folders")


# A btree row holds at most 2,704 bytes (8 kB pages): the path, its 4-byte length word and the row's
# 8-byte header fit under it with room to spare, compressed or not.
_INDEXED_PATH_BYTES = 2_000


def downgrade() -> None:
    op.create_index(
        "ix_folders_path",
        "folders",
        ["path"],
        postgresql_ops={"path": "text_pattern_ops"},
        postgresql_where=sa.text(f"octet_length(path) <= {_INDEXED_PATH_BYTES}"),
    )
