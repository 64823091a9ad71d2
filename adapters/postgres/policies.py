from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.changes import Changes
from adapters.postgres.tables import access_policies
from domain.model import Document
from domain.roles import Role


class SqlPolicyRepository:
    def __init__(self, connection: Connection, changes: Changes) -> None:
        self._connection = connection
        self._changes = changes

    def role_of(self, document_id: str, user_id: str) -> Role | None:
        query = select(access_policies.c.role).where(
            access_policies.c.document_id == document_id, access_policies.c.user_id == user_id
        )
        role = self._connection.scalar(query)
        return None if role is None else Role(role)

    def owners_of(self, document_id: str) -> frozenset[str]:
        query = select(access_policies.c.user_id).where(
            access_policies.c.document_id == document_id, access_policies.c.role == Role.OWNER.value
        )
        return frozenset(self._connection.scalars(query))

    def put(self, document: Document, user_id: str, role: Role) -> None:
        statement = insert(access_policies).values(document_id=document.id, user_id=user_id, role=role.value)
        statement = statement.on_conflict_do_update(
            index_elements=[access_policies.c.document_id, access_policies.c.user_id],
            set_={"role": statement.excluded.role},
        )
        self._connection.execute(statement)
        self._changes.document_changed(document)

    def remove(self, document: Document, user_id: str) -> None:
        statement = access_policies.delete().where(
            access_policies.c.document_id == document.id, access_policies.c.user_id == user_id
        )
        if self._connection.execute(statement).rowcount:
            self._changes.document_changed(document)
