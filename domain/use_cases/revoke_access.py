from __future__ import annotations

from domain.commands import RevokeAccess
from domain.errors import PermissionDenied
from domain.events import AccessRevoked
from domain.model import Document
from domain.ports import UnitOfWork
from domain.roles import Capability, Role, capabilities_of
from domain.use_cases.guards import require_another_owner, require_document, require_member


def revoke_access(cmd: RevokeAccess, uow: UnitOfWork) -> None:
    """Removes the user's role; revoking a user who holds none changes nothing. A revoker who is not a
    member of the document's organization is refused as such (``not_a_member``)."""
    with uow:
        document = require_document(uow, cmd.doc_id)
        require_member(uow, document.org_id, cmd.revoked_by, document_id=document.id)
        _require_may_revoke(uow, document, cmd.revoked_by)
        current = uow.policies.role_of(document.id, cmd.user_id)
        if current is Role.OWNER:
            require_another_owner(uow, document, cmd.user_id)
        if current is not None:
            uow.policies.remove(document, cmd.user_id)
            uow.record(
                AccessRevoked(
                    org_id=document.org_id,
                    doc_id=document.id,
                    revoked_by=cmd.revoked_by,
                    user_id=cmd.user_id,
                    role=current.value,
                )
            )
        uow.commit()


def _require_may_revoke(uow: UnitOfWork, document: Document, revoked_by: str) -> None:
    if Capability.SHARE not in capabilities_of(uow.policies.role_of(document.id, revoked_by)):
        raise PermissionDenied(
            f"user {revoked_by!r} may not revoke access to document {document.id!r}",
            org_id=document.org_id,
            document_id=document.id,
        )
