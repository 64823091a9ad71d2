"""Memberships: who belongs to which organization."""

from __future__ import annotations

from adapters.postgres.session import PgSession

_IS_MEMBER = "SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = %s AND user_id = %s)"
_ADD_ORGANIZATION = "INSERT INTO organizations (id) VALUES (%s) ON CONFLICT (id) DO NOTHING"
_ADD_MEMBERSHIP = "INSERT INTO memberships (org_id, user_id) VALUES (%s, %s)"


class SqlMemberRepository:
    def __init__(self, session: PgSession) -> None:
        self._session = session

    def contains(self, org_id: str, user_id: str) -> bool:
        return bool(self._session.scalar(_IS_MEMBER, (org_id, user_id)))

    def add(self, org_id: str, user_id: str) -> None:
        """Adds the membership, creating the organization on its first member.

        A membership added concurrently by another unit of work fails this one's insert (at commit), so
        the caller retries and finds the member instead of recording a second ``MemberAdded``.
        """
        self._session.send(_ADD_ORGANIZATION, (org_id,))
        self._session.send(_ADD_MEMBERSHIP, (org_id, user_id))
