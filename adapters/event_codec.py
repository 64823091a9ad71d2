"""How a domain event looks on the wire: its routing key on ``doc.events`` and its JSON body.

This mapping is part of the public contract (docs/contract.md); change it only with a new schema_version.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from domain.events import (
    AccessRevoked,
    CommandRejected,
    DocumentShared,
    DocumentUploaded,
    Event,
    FolderCreated,
    MemberAdded,
    ShareDenied,
)
from domain.roles import Role

SCHEMA_VERSION = 1
EVENTS_EXCHANGE = "doc.events"
SHARED_PREFIX = "document.shared."  # then the role granted
REJECTED_PREFIX = "command.rejected."  # then the rejected command's actor

_ROUTING_KEYS: dict[type[Event], str] = {
    DocumentUploaded: "document.uploaded",
    AccessRevoked: "document.access_revoked",
    ShareDenied: "document.share_denied",
    FolderCreated: "folder.created",
    MemberAdded: "member.added",
}
_COMMON = ("event_id", "occurred_at", "org_id", "message_id")


def routing_keys(actors: Iterable[str]) -> list[str]:
    """Every routing key docfleet publishes on, a rejection's for each of ``actors``."""
    shared = [f"{SHARED_PREFIX}{role}" for role in Role]
    return [*_ROUTING_KEYS.values(), *shared, *(f"{REJECTED_PREFIX}{actor}" for actor in actors)]


def routing_key(event: Event) -> str:
    if isinstance(event, DocumentShared):
        return f"{SHARED_PREFIX}{event.role}"
    if isinstance(event, CommandRejected):
        return f"{REJECTED_PREFIX}{event.actor}"
    return _ROUTING_KEYS[type(event)]


def to_wire(event: Event) -> dict[str, Any]:
    """The event as one JSON object: the common fields first, then the type's own, never content."""
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "org_id": event.org_id,
    }
    if event.document_id is not None or hasattr(event, "doc_id"):
        body["document_id"] = event.document_id
    for name in _own_fields(type(event)):  # type: ignore[arg-type]  # mypy checks the instances; a class hashes
        body[name] = getattr(event, name)
    if event.message_id is not None:  # absent only where no message was handled (tests, tools)
        body["message_id"] = event.message_id
    return body


@functools.cache
def _own_fields(event_type: type[Event]) -> tuple[str, ...]:
    """The type's fields but the common ones, ``message_id`` (sent last) and ``doc_id`` (sent as
    ``document_id``), in their order."""
    return tuple(
        field.name
        for field in dataclasses.fields(event_type)
        if field.name not in _COMMON and field.name != "doc_id"
    )
