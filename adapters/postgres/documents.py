from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.changes import Changes
from adapters.postgres.errors import StaleDocumentVersion
from adapters.postgres.mappers import document_from_row, document_values, listed_document_from_row
from adapters.postgres.tables import access_policies, documents
from domain.listing import FolderListing
from domain.model import Document, Folder

_REPLACED_ON_NEW_VERSION = ("uploaded_by", "name", "mime_type", "version", "blob_uri", "tags", "updated_at")


class SqlDocumentRepository:
    def __init__(self, connection: Connection, changes: Changes) -> None:
        self._connection = connection
        self._changes = changes

    def get(self, document_id: str) -> Document | None:
        """The document, locked until the unit of work ends.

        Units of work on one document run one after the other, so a rule checked against its policies
        (e.g. "never remove the last owner") still holds at commit, and its outbox rows are numbered in
        the order their changes committed. The lock leaves the key alone: inserting policies that refer
        to the document is not blocked.
        """
        # key_share=True renders FOR NO KEY UPDATE.
        query = select(documents).where(documents.c.id == document_id).with_for_update(key_share=True)
        row = self._connection.execute(query).one_or_none()
        return None if row is None else document_from_row(row)

    def save(self, document: Document) -> None:
        """Inserts a first version, or replaces the stored one when ``document`` is a later version."""
        values = document_values(document)
        statement = insert(documents).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[documents.c.id],
            set_={column: statement.excluded[column] for column in _REPLACED_ON_NEW_VERSION},
            where=documents.c.version < statement.excluded.version,
        )
        if self._connection.scalar(statement.returning(documents.c.id)) is None:
            raise StaleDocumentVersion(document.id, document.version)
        self._changes.document_changed(document)

    def listing(self, folder: Folder) -> FolderListing:
        """Every document of the folder with its readers, in one query."""
        readers = func.array_agg(access_policies.c.user_id).filter(access_policies.c.user_id.is_not(None))
        query = (
            select(documents, readers.label("readers"))
            .select_from(documents.outerjoin(access_policies))
            .where(documents.c.org_id == folder.org_id, documents.c.folder_id == folder.id)
            .group_by(documents.c.id)
            .order_by(documents.c.created_at.desc(), documents.c.id.desc())
        )
        entries = [listed_document_from_row(row) for row in self._connection.execute(query)]
        return FolderListing.newest_first(folder.id, folder.org_id, folder.listing_version, entries)
