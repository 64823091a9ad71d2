from __future__ import annotations

from sqlalchemy import Connection, exists, select
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.tables import memberships, organizations


class SqlMemberRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def contains(self, org_id: str, user_id: str) -> bool:
        query = select(exists().where(memberships.c.org_id == org_id, memberships.c.user_id == user_id))
        return bool(self._connection.scalar(query))

    def add(self, org_id: str, user_id: str) -> None:
        """Adds the membership, creating the organization on its first member.

        A membership added concurrently by another unit of work fails this one's insert, so the caller
        retries and finds the member instead of recording a second ``MemberAdded``.
        """
        self._connection.execute(
            insert(organizations).values(id=org_id).on_conflict_do_nothing(index_elements=["id"])
        )
        self._connection.execute(memberships.insert().values(org_id=org_id, user_id=user_id))
