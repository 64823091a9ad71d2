"""Organizations, memberships, the folder tree, documents with their access policies, inbox and outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    _create_organizations_and_memberships()
    _create_folders()
    _create_documents_and_policies()
    _create_inbox_and_outbox()


def downgrade() -> None:
    for table in ("outbox", "inbox", "access_policies", "documents", "folders", "memberships"):
        op.drop_table(table)
    op.drop_table("organizations")


def _timestamp(name: str, *, nullable: bool = False, default_now: bool = False) -> sa.Column[datetime]:
    default = sa.text("now()") if default_now else None
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def _create_organizations_and_memberships() -> None:
    op.create_table("organizations", sa.Column("id", sa.Text(), primary_key=True))
    op.create_table(
        "memberships",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name="fk_memberships_org"),
    )


def _create_folders() -> None:
    op.create_table(
        "folders",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.Column("listing_version", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name="fk_folders_org"),
        sa.UniqueConstraint("id", "org_id", name="uq_folders_id_org"),
        sa.ForeignKeyConstraint(
            ["parent_id", "org_id"], ["folders.id", "folders.org_id"], name="fk_folders_parent_same_org"
        ),
        sa.CheckConstraint("id <> ''", name="ck_folders_id_not_blank"),
    )
    op.create_index(
        "uq_folders_sibling_name",
        "folders",
        ["org_id", sa.text("coalesce(parent_id, '')"), "name"],
        unique=True,
    )
    op.create_index("ix_folders_path", "folders", ["path"], postgresql_ops={"path": "text_pattern_ops"})


def _create_documents_and_policies() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("folder_id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("blob_uri", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'")),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name="fk_documents_org"),
        sa.ForeignKeyConstraint(
            ["folder_id", "org_id"], ["folders.id", "folders.org_id"], name="fk_documents_folder_same_org"
        ),
        sa.CheckConstraint("version > 0", name="ck_documents_version_positive"),
    )
    op.create_index(
        "ix_documents_listing",
        "documents",
        ["org_id", "folder_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_table(
        "access_policies",
        sa.Column("document_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "user_id", name="pk_access_policies"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name="fk_access_policies_document"),
        sa.CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="ck_access_policies_role"),
    )
    op.create_index("ix_access_policies_user", "access_policies", ["user_id"])


def _create_inbox_and_outbox() -> None:
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.Text(), primary_key=True),
        _timestamp("processed_at", default_now=True),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=True),  # bigserial
        sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=True),
        sa.Column("document_id", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        _timestamp("created_at", default_now=True),
        _timestamp("published_at", nullable=True),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["seq"], postgresql_where=sa.text("published_at IS NULL")
    )
