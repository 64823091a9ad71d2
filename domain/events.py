"""Domain events: facts in the past tense, recorded by use cases and committed with the state they describe.

Events carry metadata only, never document content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from domain.model import utc_now

# The namespace of event ids derived from what the event answers (``derived_event_id``).
_DERIVED_IDS = uuid.UUID("c95b8bed-3b0b-41a6-8ad2-90cd72e84333")


def _new_event_id() -> str:
    return str(uuid.uuid4())


def derived_event_id(*parts: str) -> str:
    """The same id each time for the same ``parts``: an event recorded in answer to a message that may come
    again keeps one id, which the outbox holds once, instead of a new one at each delivery."""
    return str(uuid.uuid5(_DERIVED_IDS, "\x1f".join(parts)))


@dataclass(frozen=True, kw_only=True)
class Event:
    org_id: str | None
    event_id: str = field(default_factory=_new_event_id)
    occurred_at: datetime = field(default_factory=utc_now)
    message_id: str | None = None
    """The id of the command message whose transaction recorded it: its unit of work stamps it."""

    @property
    def type(self) -> str:
        return type(self).__name__

    @property
    def document_id(self) -> str | None:
        return None


@dataclass(frozen=True, kw_only=True)
class MemberAdded(Event):
    user_id: str


@dataclass(frozen=True, kw_only=True)
class FolderCreated(Event):
    folder_id: str
    parent_id: str | None
    name: str
    created_by: str


@dataclass(frozen=True, kw_only=True)
class _DocumentEvent(Event):
    doc_id: str

    @property
    def document_id(self) -> str | None:
        return self.doc_id


@dataclass(frozen=True, kw_only=True)
class DocumentUploaded(_DocumentEvent):
    owner_id: str
    uploaded_by: str
    folder_id: str
    version: int
    name: str
    mime_type: str


@dataclass(frozen=True, kw_only=True)
class DocumentShared(_DocumentEvent):
    shared_by: str
    shared_with: str
    role: str
    previous_role: str | None  # None: a new grant; else the role it replaces (a promotion or a demotion)


@dataclass(frozen=True, kw_only=True)
class AccessRevoked(_DocumentEvent):
    revoked_by: str
    user_id: str
    role: str  # the role the user held, now taken away


@dataclass(frozen=True, kw_only=True)
class ShareDenied(_DocumentEvent):
    shared_by: str
    shared_with: str
    role: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class CommandRejected(Event):
    """A command that was refused, found invalid, or gave up waiting for what it refers to."""

    message_id: str
    actor: str
    reason: str
    detail: str
    doc_id: str | None = None
    folder_id: str | None = None  # the folder the command creates or uploads into
    user_id: str | None = None  # the user the command adds as a member, or revokes

    @property
    def document_id(self) -> str | None:
        return self.doc_id


AnyEvent = TypeVar("AnyEvent", bound=Event)


def stamped(event: AnyEvent, message_id: str | None) -> AnyEvent:
    """The event naming the message whose transaction records it, unless it names one already."""
    if message_id is None or event.message_id is not None:
        return event
    return replace(event, message_id=message_id)
