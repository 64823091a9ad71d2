"""Commands (imperatives) and queries, as the use cases receive them once the message is validated."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from enum import Enum
from functools import cache

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

NO_COMMAND = "no-command"
"""Kept for a message id that a message no command could be read from spent (a rejection as invalid):
no command's fingerprint (a hex digest) equals it, so any command sent under that id later is another."""


def fingerprint(command: Command) -> str:
    """A digest of what the command asks: two messages under one id carry the same command exactly when
    their fingerprints are equal. A field left at its default is not part of it, so a later version that
    adds an optional field fingerprints an earlier message's command as that version did."""
    kind: type = type(command)
    stated: list[object] = [kind.__name__]
    for name, default in _fields_of(kind):
        value = getattr(command, name)
        if value is not default and value != default:
            stated += (name, value.value if isinstance(value, Enum) else value)
    return hashlib.blake2b(repr(stated).encode(), digest_size=16).hexdigest()


@cache
def _fields_of(kind: type) -> tuple[tuple[str, object], ...]:
    """Each field's name and default (``MISSING`` when it has none)."""
    return tuple((spec.name, spec.default) for spec in fields(kind))
