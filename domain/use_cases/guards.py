"""Lookups and checks shared by the use cases, each turning an absence or a broken rule into the right
typed error."""

from __future__ import annotations

from domain.errors import CrossOrganization, DocumentNotFound, FolderNotFound, LastOwner, NotAMember
from domain.model import Document, Folder
from domain.ports import UnitOfWork


def require_member(
    uow: UnitOfWork, org_id: str, user_id: str, *, document_id: str | None = None, naming_it: bool = True
) -> None:
    """``naming_it=False``: the refusal does not name the organization, for an answer that goes back to
    a requester who may be of another one (a query's), unlike a refusal event."""
    if not uow.members.contains(org_id, user_id):
        organization = f"organization {org_id!r}" if naming_it else "the folder's organization"
        raise NotAMember(
            f"user {user_id!r} is not a member of {organization}", org_id=org_id, document_id=document_id
        )


def require_folder_in_org(uow: UnitOfWork, folder_id: str, org_id: str) -> Folder:
    folder = uow.folders.get(folder_id)
    if folder is None:
        raise FolderNotFound(folder_id)
    if folder.org_id != org_id:
        raise CrossOrganization(
            f"folder {folder_id!r} does not belong to organization {org_id!r}", org_id=org_id
        )
    return folder


def require_document(uow: UnitOfWork, document_id: str) -> Document:
    document = uow.documents.get(document_id)
    if document is None:
        raise DocumentNotFound(document_id)
    return document


def require_another_owner(uow: UnitOfWork, document: Document, user_id: str) -> None:
    """Refuses a change that would leave the document with no owner but ``user_id``."""
    if uow.policies.owners_of(document.id) <= {user_id}:
        raise LastOwner(
            f"user {user_id!r} is the last owner of document {document.id!r}",
            org_id=document.org_id,
            document_id=document.id,
        )
