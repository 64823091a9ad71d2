"""Explicit translations between table rows and the domain's plain objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.event_codec import routing_key, to_wire
from domain.events import Event
from domain.listing import ListedDocument
from domain.model import Document, Folder

FOLDER_COLUMNS = "id, org_id, parent_id, name, created_by, created_at, listing_version"
DOCUMENT_COLUMNS = (
    "id, org_id, folder_id, owner_id, uploaded_by, name, mime_type, version, blob_uri, tags, created_at,"
    " updated_at"
)


def qualified(alias: str, columns: str) -> str:
    """``d.id, d.org_id`` out of ``id, org_id``."""
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


def as_utc(moment: datetime) -> datetime:
    """Postgres returns timestamptz in the session's time zone; the domain speaks UTC."""
    return moment.astimezone(UTC)


def folder_from_row(row: Any) -> Folder:
    return Folder(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        parent_id=row.parent_id,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        listing_version=row.listing_version,
    )


def folder_values(folder: Folder) -> dict[str, Any]:
    return {
        "id": folder.id,
        "org_id": folder.org_id,
        "name": folder.name,
        "parent_id": folder.parent_id,
        "created_by": folder.created_by,
        "created_at": folder.created_at,
        "listing_version": folder.listing_version,
    }


def document_from_row(row: Any) -> Document:
    return Document(
        id=row.id,
        org_id=row.org_id,
        folder_id=row.folder_id,
        owner_id=row.owner_id,
        name=row.name,
        mime_type=row.mime_type,
        version=row.version,
        blob_uri=row.blob_uri,
        tags=tuple(row.tags),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        uploaded_by=row.uploaded_by,
    )


def document_values(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "org_id": document.org_id,
        "folder_id": document.folder_id,
        "owner_id": document.owner_id,
        "uploaded_by": document.uploaded_by,
        "name": document.name,
        "mime_type": document.mime_type,
        "version": document.version,
        "blob_uri": document.blob_uri,
        "tags": list(document.tags),
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }


def listed_document_from_row(row: Any) -> ListedDocument:
    """A document row carrying a ``readers`` array: every user holding a role on it."""
    return ListedDocument(document_from_row(row), frozenset(row.readers or ()))


def outbox_values(event: Event) -> dict[str, Any]:
    """One outbox row: the event's wire body as payload, with the columns the relay routes and orders by."""
    return {
        "event_id": event.event_id,
        "type": event.type,
        "routing_key": routing_key(event),
        "org_id": event.org_id,
        "document_id": event.document_id,
        "payload": to_wire(event),
    }
