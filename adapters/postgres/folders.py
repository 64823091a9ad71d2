"""Folders: the tree each organization's documents live in."""

from __future__ import annotations

from adapters.postgres.mappers import FOLDER_COLUMNS, folder_from_row, folder_values
from adapters.postgres.session import PgSession
from domain.model import Folder

_GET = f"SELECT {FOLDER_COLUMNS} FROM folders WHERE id = %s"
# The same expression as the unique sibling-name index, so the index serves the lookup.
_SIBLING_NAMED = (
    f"SELECT {FOLDER_COLUMNS} FROM folders"
    " WHERE org_id = %s AND coalesce(parent_id, '') = %s AND normalize(name, NFC) = normalize(%s, NFC)"
)
# ``path`` is written for the release before this one alone, which builds a new folder's path from its
# parent's during a rolling deploy and a rollback; nothing reads it. Each folder holds its own id there
# ('/id/'), not the ids from its root, which grew with the square of the depth. A later release drops it.
_ADD = (
    f"INSERT INTO folders ({FOLDER_COLUMNS}, path) VALUES"
    " (%(id)s, %(org_id)s, %(parent_id)s, %(name)s, %(created_by)s, %(created_at)s,"
    " %(listing_version)s, '/' || %(id)s || '/')"
)


class SqlFolderRepository:
    def __init__(self, session: PgSession) -> None:
        self._session = session

    def get(self, folder_id: str) -> Folder | None:
        row = self._session.one(_GET, (folder_id,))
        return None if row is None else folder_from_row(row)

    def sibling_named(self, org_id: str, parent_id: str | None, name: str) -> Folder | None:
        row = self._session.one(_SIBLING_NAMED, (org_id, parent_id or "", name))
        return None if row is None else folder_from_row(row)

    def add(self, folder: Folder) -> None:
        self._session.send(_ADD, folder_values(folder))
