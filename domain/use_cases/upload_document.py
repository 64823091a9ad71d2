from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.commands import UploadDocument
from domain.errors import Conflict, CrossOrganization, PermissionDenied
from domain.events import DocumentUploaded
from domain.model import Document, DocumentContent, utc_now
from domain.ports import UnitOfWork
from domain.roles import Capability, Role, capabilities_of
from domain.use_cases.guards import require_folder_in_org, require_member


def upload_document(cmd: UploadDocument, uow: UnitOfWork, now: Callable[[], datetime] = utc_now) -> None:
    """The first upload of an id creates version 1 owned by the uploader; later ones add versions."""
    content = DocumentContent(cmd.name, cmd.mime_type, cmd.blob_uri, cmd.tags)
    with uow:
        require_member(uow, cmd.org_id, cmd.owner_id)
        existing = uow.documents.get(cmd.doc_id)
        if existing is None:
            document = _first_version(uow, cmd, content, now())
        else:
            _require_editable(uow, existing, cmd)
            document = existing.next_version(content=content, uploaded_by=cmd.owner_id, now=now())
            uow.documents.save(document)
        uow.record(_uploaded(document, uploaded_by=cmd.owner_id))
        uow.commit()


def _first_version(uow: UnitOfWork, cmd: UploadDocument, content: DocumentContent, now: datetime) -> Document:
    """Version 1 in the command's folder, the uploader its owner."""
    require_folder_in_org(uow, cmd.folder_id, cmd.org_id)  # a new version stays in its own
    document = Document.first_version(
        doc_id=cmd.doc_id,
        org_id=cmd.org_id,
        folder_id=cmd.folder_id,
        owner_id=cmd.owner_id,
        content=content,
        now=now,
    )
    uow.documents.save(document)
    uow.policies.put(document, cmd.owner_id, Role.OWNER)
    return document


def _uploaded(document: Document, uploaded_by: str) -> DocumentUploaded:
    return DocumentUploaded(
        org_id=document.org_id,
        doc_id=document.id,
        owner_id=document.owner_id,
        uploaded_by=uploaded_by,
        folder_id=document.folder_id,
        version=document.version,
        name=document.name,
        mime_type=document.mime_type,
    )


def _require_editable(uow: UnitOfWork, existing: Document, cmd: UploadDocument) -> None:
    if existing.org_id != cmd.org_id:
        raise CrossOrganization(
            f"document {cmd.doc_id!r} does not belong to organization {cmd.org_id!r}",
            org_id=cmd.org_id,
        )
    role = uow.policies.role_of(existing.id, cmd.owner_id)
    if Capability.EDIT not in capabilities_of(role):
        raise PermissionDenied(
            f"user {cmd.owner_id!r} may not upload a new version of document {existing.id!r}",
            org_id=existing.org_id,
            document_id=existing.id,
        )
    if existing.folder_id != cmd.folder_id:  # the document's state says no, not the message's form
        raise Conflict(
            f"a new version of document {existing.id!r} must be uploaded into its folder "
            f"{existing.folder_id!r}",
            org_id=existing.org_id,
            document_id=existing.id,
        )
