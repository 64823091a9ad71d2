from __future__ import annotations

from sqlalchemy import Connection, func, literal_column, select

from adapters.postgres.mappers import folder_from_row, folder_values
from adapters.postgres.tables import folders
from domain.model import Folder


class SqlFolderRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, folder_id: str) -> Folder | None:
        row = self._connection.execute(select(folders).where(folders.c.id == folder_id)).one_or_none()
        return None if row is None else folder_from_row(row)

    def sibling_named(self, org_id: str, parent_id: str | None, name: str) -> Folder | None:
        # The same expression as the unique sibling-name index, so the index serves the lookup.
        query = select(folders).where(
            folders.c.org_id == org_id,
            func.coalesce(folders.c.parent_id, literal_column("''")) == (parent_id or ""),
            folders.c.name == name,
        )
        row = self._connection.execute(query).one_or_none()
        return None if row is None else folder_from_row(row)

    def add(self, folder: Folder) -> None:
        self._connection.execute(folders.insert().values(**folder_values(folder)))
