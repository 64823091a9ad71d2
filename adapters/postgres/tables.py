"""The schema as SQLAlchemy Core tables, for building statements. The migrations alone create it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

organizations = Table(
    "organizations",
    metadata,
    Column("id", Text, primary_key=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("org_id", Text, ForeignKey("organizations.id", name="fk_memberships_org"), nullable=False),
    Column("user_id", Text, nullable=False),
    PrimaryKeyConstraint("org_id", "user_id", name="pk_memberships"),
)
Index("ix_memberships_user", memberships.c.user_id, memberships.c.org_id)  # a batch's read of its users

folders = Table(
    "folders",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, ForeignKey("organizations.id", name="fk_folders_org"), nullable=False),
    Column("parent_id", Text, nullable=True),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),  # for the release before alone: see folders.py
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("listing_version", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("id", "org_id", name="uq_folders_id_org"),
    # A parent is a folder of the same organization.
    ForeignKeyConstraint(
        ["parent_id", "org_id"], ["folders.id", "folders.org_id"], name="fk_folders_parent_same_org"
    ),
    # The sibling-name index reads a missing parent as '', so no folder may have that id.
    CheckConstraint("id <> ''", name="ck_folders_id_not_blank"),
)
# Names compared composed (NFC), as ``domain.model.same_name`` compares them (migration 0008).
Index(
    "uq_folders_sibling_name",
    folders.c.org_id,
    func.coalesce(folders.c.parent_id, literal_column("''")),
    func.normalize(folders.c.name, literal_column("NFC")),
    unique=True,
)

documents = Table(
    "documents",
    metadata,
    Column("id", Text, primary_key=True),
    # No key of its own to organizations: the folder's key below implies it (its folder's org_id), and
    # each key is checked again for every row written (about 16 µs of Postgres's CPU a document).
    Column("org_id", Text, nullable=False),
    Column("folder_id", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("uploaded_by", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("mime_type", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("blob_uri", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(
        ["folder_id", "org_id"], ["folders.id", "folders.org_id"], name="fk_documents_folder_same_org"
    ),
    CheckConstraint("version > 0", name="ck_documents_version_positive"),
)
# Ids by code point, whatever the database's collation: the order a folder's pages are cut in (0009).
Index(
    "ix_documents_listing",
    documents.c.org_id,
    documents.c.folder_id,
    documents.c.created_at.desc(),
    documents.c.id.collate("C").desc(),
)

access_policies = Table(
    "access_policies",
    metadata,
    Column(
        "document_id", Text, ForeignKey("documents.id", name="fk_access_policies_document"), nullable=False
    ),
    Column("user_id", Text, nullable=False),
    Column("role", Text, nullable=False),
    PrimaryKeyConstraint("document_id", "user_id", name="pk_access_policies"),
    CheckConstraint("role IN ('viewer', 'editor', 'owner')", name="ck_access_policies_role"),
)
# No index by user alone: every read names the document (migration 0004).

inbox = Table(
    "inbox",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Of the command that spent the id (domain.commands.fingerprint); NO_COMMAND for a message no command
    # could be read from (rejected as invalid); null for rows from before migration 0010.
    Column("fingerprint", Text, nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid(as_uuid=False), nullable=False),
    Column("type", Text, nullable=False),
    Column("routing_key", Text, nullable=False),
    Column("org_id", Text, nullable=True),
    Column("document_id", Text, nullable=True),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("event_id", name="uq_outbox_event_id"),
)
Index("ix_outbox_unpublished", outbox.c.seq, postgresql_where=outbox.c.published_at.is_(None))
# The dead letters' reasons: the CommandRejected of a message id (migration 0006, ``rejections``).
Index(
    "ix_outbox_rejected_message_id",
    outbox.c.payload.op("->>")(literal_column("'message_id'")),
    postgresql_where=outbox.c.type == literal_column("'CommandRejected'"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("event_id", Uuid(as_uuid=False), nullable=False),
    Column("type", Text, nullable=False),
    Column("routing_key", Text, nullable=False),
    Column("org_id", Text, nullable=True),
    Column("document_id", Text, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("event_id", name="pk_audit_log"),
)
Index("ix_audit_log_org_occurred", audit_log.c.org_id, audit_log.c.occurred_at)
