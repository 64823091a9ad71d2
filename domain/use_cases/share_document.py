from __future__ import annotations

from domain.commands import ShareDocument
from domain.errors import Escalation, PermissionDenied
from domain.events import DocumentShared
from domain.model import Document
from domain.ports import UnitOfWork
from domain.roles import Capability, Role, capabilities_of, may_grant
from domain.use_cases.guards import require_another_owner, require_document, require_member


def share_document(cmd: ShareDocument, uow: UnitOfWork) -> None:
    """Grants ``role`` to the sharee; granting the role it already holds changes nothing. Whoever is not
    a member of the document's organization, sharer or sharee, is refused as such (``not_a_member``)."""
    with uow:
        document = require_document(uow, cmd.doc_id)
        require_member(uow, document.org_id, cmd.shared_by, document_id=document.id)
        require_member(uow, document.org_id, cmd.shared_with, document_id=document.id)
        _require_may_grant(uow, document, cmd)
        current = uow.policies.role_of(document.id, cmd.shared_with)
        if current is Role.OWNER and cmd.role is not Role.OWNER:
            require_another_owner(uow, document, cmd.shared_with)
        if current is not cmd.role:
            uow.policies.put(document, cmd.shared_with, cmd.role)
            uow.record(
                DocumentShared(
                    org_id=document.org_id,
                    doc_id=document.id,
                    shared_by=cmd.shared_by,
                    shared_with=cmd.shared_with,
                    role=cmd.role.value,
                    previous_role=None if current is None else current.value,
                )
            )
        uow.commit()


def _require_may_grant(uow: UnitOfWork, document: Document, cmd: ShareDocument) -> None:
    held = uow.policies.role_of(document.id, cmd.shared_by)
    if may_grant(held, cmd.role):
        return
    if Capability.SHARE not in capabilities_of(held):
        raise PermissionDenied(
            f"user {cmd.shared_by!r} may not share document {document.id!r}",
            org_id=document.org_id,
            document_id=document.id,
        )
    raise Escalation(
        f"user {cmd.shared_by!r} cannot grant {cmd.role.value!r}, a role above its own",
        org_id=document.org_id,
        document_id=document.id,
    )
