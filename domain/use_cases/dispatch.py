"""Runs a command for one message and turns every result into a defined outcome.

Applied, a duplicate of an applied message, or refused by the rules (the refusal event committed, with the
inbox row, in a fresh unit of work). ``NotFound`` and infrastructure faults propagate: the caller retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from typing import Any

from domain.commands import (
    AddMember,
    Command,
    CreateFolder,
    RevokeAccess,
    ShareDocument,
    UploadDocument,
)
from domain.errors import AlreadyApplied, EventAlreadyRecorded, Refused
from domain.events import CommandRejected, Event, ShareDenied
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.use_cases.add_member import add_member
from domain.use_cases.create_folder import create_folder
from domain.use_cases.revoke_access import revoke_access
from domain.use_cases.share_document import share_document
from domain.use_cases.upload_document import upload_document


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


HANDLERS: dict[type[Any], Callable[[Any, Any], None]] = {
    AddMember: add_member,
    CreateFolder: create_folder,
    UploadDocument: upload_document,
    ShareDocument: share_document,
    RevokeAccess: revoke_access,
}


def execute(command: Command, *, message_id: str, actor: str, new_uow: UnitOfWorkFactory) -> Outcome:
    try:
        HANDLERS[type(command)](command, new_uow(message_id))
    except AlreadyApplied:
        return Outcome.DUPLICATE
    except Refused as refusal:
        return record_outcome(refusal_event(command, refusal, message_id, actor), message_id, new_uow)
    return Outcome.APPLIED


def refusal_event(command: Command, refusal: Refused, message_id: str, actor: str) -> Event:
    if isinstance(command, ShareDocument):
        return ShareDenied(
            org_id=refusal.org_id,
            doc_id=command.doc_id,
            shared_by=command.shared_by,
            shared_with=command.shared_with,
            role=command.role.value,
            reason=refusal.code,
            detail=refusal.message,
            message_id=message_id,
        )
    return rejection(
        command,
        message_id,
        actor,
        refusal.code,
        refusal.message,
        org_id=refusal.org_id,
        doc_id=refusal.document_id,
    )


def rejection(
    command: Command | None,
    message_id: str,
    actor: str,
    reason: str,
    detail: str,
    *,
    org_id: str | None = None,
    doc_id: str | None = None,
    folder_id: str | None = None,
    user_id: str | None = None,
) -> CommandRejected:
    """A CommandRejected naming the organization, document, folder and user the command names (None: a
    message that could not be read as one); the ids given where they are known better or otherwise (a
    document's organization, the well-formed ids of an invalid message)."""
    return CommandRejected(
        org_id=org_id or getattr(command, "org_id", None),
        doc_id=doc_id or getattr(command, "doc_id", None),
        folder_id=folder_id or getattr(command, "folder_id", None),
        user_id=user_id or getattr(command, "user_id", None),
        message_id=message_id,
        actor=actor,
        reason=reason,
        detail=detail,
    )


def record_outcome(event: Event, message_id: str | None, new_uow: UnitOfWorkFactory) -> Outcome:
    """Commits a refusal or rejection event together with the message's inbox row (none without an id:
    a message whose id another command spent: the event's own id, derived from it, is then recorded once)."""
    try:
        with new_uow(message_id) as uow:
            uow.record(_with_known_org(event, uow))
            uow.commit()
    except (AlreadyApplied, EventAlreadyRecorded):
        return Outcome.DUPLICATE
    return Outcome.REFUSED


def _with_known_org(event: Event, uow: UnitOfWork) -> Event:
    """A CommandRejected naming a document but no organization (its command has no ``org_id``, or was
    unreadable) takes the document's, when the document exists."""
    if isinstance(event, CommandRejected) and event.org_id is None and event.doc_id is not None:
        document = uow.documents.get(event.doc_id)
        if document is not None:
            return replace(event, org_id=document.org_id)
    return event
