"""Access policies: the role each user holds on a document."""

from __future__ import annotations

from adapters.postgres.changes import Changes
from adapters.postgres.session import PgSession
from domain.model import Document
from domain.roles import Role

_ROLE_OF = "SELECT role FROM access_policies WHERE document_id = %s AND user_id = %s"
_OWNERS_OF = "SELECT user_id FROM access_policies WHERE document_id = %s AND role = 'owner'"
_PUT = (
    "INSERT INTO access_policies (document_id, user_id, role) VALUES (%s, %s, %s)"
    " ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role"
)
_REMOVE = "DELETE FROM access_policies WHERE document_id = %s AND user_id = %s RETURNING user_id"


class SqlPolicyRepository:
    def __init__(self, session: PgSession, changes: Changes) -> None:
        self._session = session
        self._changes = changes

    def role_of(self, document_id: str, user_id: str) -> Role | None:
        role = self._session.scalar(_ROLE_OF, (document_id, user_id))
        return None if role is None else Role(role)

    def owners_of(self, document_id: str) -> frozenset[str]:
        return frozenset(row.user_id for row in self._session.all(_OWNERS_OF, (document_id,)))

    def put(self, document: Document, user_id: str, role: Role) -> None:
        self._session.send(_PUT, (document.id, user_id, role.value))
        self._changes.document_changed(document)

    def remove(self, document: Document, user_id: str) -> None:
        if self._session.one(_REMOVE, (document.id, user_id)) is not None:
            self._changes.document_changed(document)
