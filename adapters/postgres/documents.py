"""Documents: the latest version of each, and a folder's listing with every reader."""

from __future__ import annotations

from adapters.postgres.changes import Changes
from adapters.postgres.errors import StaleDocumentVersion
from adapters.postgres.mappers import (
    DOCUMENT_COLUMNS,
    document_from_row,
    document_values,
    listed_document_from_row,
    qualified,
)
from adapters.postgres.session import PgSession
from domain.listing import DocumentPage, FolderListing, PagePosition, page_of
from domain.model import Document, Folder

# FOR NO KEY UPDATE leaves the key alone: inserting policies that refer to the document is not blocked.
_GET_LOCKED = f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = %s FOR NO KEY UPDATE"
_INSERT_FIRST_VERSION = (
    f"INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES"
    " (%(id)s, %(org_id)s, %(folder_id)s, %(owner_id)s, %(uploaded_by)s, %(name)s, %(mime_type)s,"
    " %(version)s, %(blob_uri)s, %(tags)s, %(created_at)s, %(updated_at)s)"
)
_STORE_LATER_VERSION = (
    "UPDATE documents SET uploaded_by = %(uploaded_by)s, name = %(name)s, mime_type = %(mime_type)s,"
    " version = %(version)s, blob_uri = %(blob_uri)s, tags = %(tags)s, updated_at = %(updated_at)s"
    " WHERE id = %(id)s AND version < %(version)s RETURNING id"
)
# A subquery per document, served by the policies' primary key: a join here made the planner scan every
# policy of every organization, which grows with the whole table rather than with the folder.
_LISTING = (
    f"SELECT {qualified('d', DOCUMENT_COLUMNS)},"
    " ARRAY(SELECT p.user_id FROM access_policies p WHERE p.document_id = d.id) AS readers"
    " FROM documents d WHERE d.org_id = %s AND d.folder_id = %s"
    ' ORDER BY d.created_at DESC, d.id COLLATE "C" DESC'
)
# Counts no further than it must: an index-only read of at most ``at_most + 1`` entries.
_HOLDS_MORE_THAN = (
    "SELECT count(*) > %(at_most)s FROM (SELECT 1 FROM documents"
    " WHERE org_id = %(org_id)s AND folder_id = %(folder_id)s LIMIT %(at_most)s + 1) AS capped"
)
# A page of a large folder by its position, in ``FolderListing``'s order: ids compared as code points
# (COLLATE "C", whatever the database's collation), as Python compares them in a cached listing, which
# is the listing index's order (0009): the page walks the index from its position and stops at its
# limit. The requester's role is looked up per document by the policies' key, a subquery the planner
# cannot turn into a join: as a semi-join (EXISTS) it misjudged how many rows would pass, and read and
# sorted the whole rest of the folder, or read every policy of every organization (none is indexed by
# user). A requester holding a role on few of the folder's documents makes a page walk further.
_PAGE = (
    f"SELECT {qualified('d', DOCUMENT_COLUMNS)} FROM documents d"
    " WHERE d.org_id = %(org_id)s AND d.folder_id = %(folder_id)s{after}"
    " AND (SELECT true FROM access_policies p WHERE p.document_id = d.id AND p.user_id = %(user_id)s)"
    ' ORDER BY d.created_at DESC, d.id COLLATE "C" DESC LIMIT %(rows)s'
)
_FIRST_PAGE = _PAGE.replace("{after}", "")
_LATER_PAGE = _PAGE.replace("{after}", ' AND (d.created_at, d.id COLLATE "C") < (%(at)s, %(id)s)')


class SqlDocumentRepository:
    def __init__(self, session: PgSession, changes: Changes) -> None:
        self._session = session
        self._changes = changes

    def get(self, document_id: str) -> Document | None:
        """The document, locked until the unit of work ends.

        Units of work on one document run one after the other, so a rule checked against its policies
        (e.g. "never remove the last owner") still holds at commit, and its outbox rows are numbered in
        the order their changes committed.
        """
        row = self._session.one(_GET_LOCKED, (document_id,))
        return None if row is None else document_from_row(row)

    def save(self, document: Document) -> None:
        """Inserts a first version, or replaces the stored one when ``document`` is a later version.

        A first version is sent without waiting: if another unit of work inserted the document first,
        the commit fails with ``StaleDocumentVersion`` and nothing is written.
        """
        values = document_values(document)
        if document.version == 1:
            self._session.send(_INSERT_FIRST_VERSION, values)
        elif self._session.one(_STORE_LATER_VERSION, values) is None:
            raise StaleDocumentVersion(document.id, document.version)
        self._changes.document_changed(document)

    def listing(self, folder: Folder, at_most: int) -> FolderListing | None:
        """Every document of the folder with its readers, in one query; None past ``at_most``."""
        scope = {"org_id": folder.org_id, "folder_id": folder.id}
        if self._session.scalar(_HOLDS_MORE_THAN, {**scope, "at_most": at_most}):
            return None
        rows = self._session.all(_LISTING, (folder.org_id, folder.id))
        entries = [listed_document_from_row(row) for row in rows]
        return FolderListing.newest_first(folder.id, folder.org_id, folder.listing_version, entries)

    def page(self, folder: Folder, user_id: str, limit: int, after: PagePosition | None) -> DocumentPage:
        """The documents ``user_id`` holds a role on, one more than ``limit`` read to tell if more follow."""
        params = {"org_id": folder.org_id, "folder_id": folder.id, "user_id": user_id, "rows": limit + 1}
        if after is None:
            rows = self._session.all(_FIRST_PAGE, params)
        else:
            rows = self._session.all(_LATER_PAGE, {**params, "at": after[0], "id": after[1]})
        return page_of([document_from_row(row) for row in rows], limit)
