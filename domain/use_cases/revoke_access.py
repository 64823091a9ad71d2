from __future__ import annotations

from domain.commands import RevokeAccess
from domain.errors import LastOwner, PermissionDenied
from domain.events import AccessRevoked
from domain.ports import UnitOfWork
from domain.roles import Capability, Role, capabilities_of
from domain.use_cases.guards import require_document, require_member


def revoke_access(cmd: RevokeAccess, uow: UnitOfWork) -> None:
    """Removes the user's role; revoking a user who holds none changes nothing. A revoker who is not a
    member of the document's organization is refused as such (``not_a_member``)."""
    with uow:
        document = require_document(uow, cmd.doc_id)
        require_member(uow, document.org_id, cmd.revoked_by, document_id=document.id)
        revoker = uow.policies.role_of(document.id, cmd.revoked_by)
        if Capability.SHARE not in capabilities_of(revoker):
            raise PermissionDenied(
                f"user {cmd.revoked_by!r} may not revoke access to document {document.id!r}",
                org_id=document.org_id,
                document_id=document.id,
            )
        current = uow.policies.role_of(document.id, cmd.user_id)
        if current is Role.OWNER and uow.policies.owners_of(document.id) <= {cmd.user_id}:
            raise LastOwner(
                f"user {cmd.user_id!r} is the last owner of document {document.id!r}",
                org_id=document.org_id,
                document_id=document.id,
            )
        if current is not None:
            uow.policies.remove(document, cmd.user_id)
            uow.record(
                AccessRevoked(
                    org_id=document.org_id,
                    doc_id=document.id,
                    revoked_by=cmd.revoked_by,
                    user_id=cmd.user_id,
                )
            )
        uow.commit()
