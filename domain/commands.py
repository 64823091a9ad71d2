"""Commands (imperatives) and queries, as the use cases receive them once the message is validated."""

from __future__ import annotations

from dataclasses import dataclass

from domain.roles import Role


@dataclass(frozen=True, kw_only=True)
class AddMember:
    org_id: str
    user_id: str


@dataclass(frozen=True, kw_only=True)
class CreateFolder:
    folder_id: str
    org_id: str
    name: str
    created_by: str
    parent_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class UploadDocument:
    doc_id: str
    org_id: str
    folder_id: str
    owner_id: str
    name: str
    mime_type: str
    blob_uri: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ShareDocument:
    doc_id: str
    shared_by: str
    shared_with: str
    role: Role


@dataclass(frozen=True, kw_only=True)
class RevokeAccess:
    doc_id: str
    revoked_by: str
    user_id: str


@dataclass(frozen=True, kw_only=True)
class ListFolderDocuments:
    folder_id: str
    requested_by: str
    limit: int = 100
    cursor: str | None = None


Command = AddMember | CreateFolder | UploadDocument | ShareDocument | RevokeAccess
