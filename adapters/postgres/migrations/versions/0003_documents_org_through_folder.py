"""A document's organization is checked through its folder alone: ``fk_documents_org`` is dropped.

``fk_documents_folder_same_org`` already requires a folder with the document's (folder_id, org_id), and
``fk_folders_org`` that folder's organization, so the direct key added nothing but a second check of
every row written.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_constraint("fk_documents_org", "documents", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key("fk_documents_org", "documents", "organizations", ["org_id"], ["id"])
