"""Typed refusals and faults raised by the use cases.

Every error carries a machine-readable ``code`` (the ``reason`` of a CommandRejected event) and a message a
person understands. ``NotFound`` is the only retryable kind: commands may arrive out of order, so a missing
document or folder may simply not have been created yet.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, org_id: str | None = None, document_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.org_id = org_id
        self.document_id = document_id


class NotFound(DomainError):
    """The thing does not exist (yet): the caller may retry later."""

    code = "not_found"


class DocumentNotFound(NotFound):
    def __init__(self, document_id: str) -> None:
        super().__init__(f"document {document_id!r} does not exist", document_id=document_id)


class FolderNotFound(NotFound):
    def __init__(self, folder_id: str) -> None:
        super().__init__(f"folder {folder_id!r} does not exist")


class Refused(DomainError):
    """A final refusal by the rules: retrying the same command cannot succeed."""

    code = "refused"


class PermissionDenied(Refused):
    code = "permission_denied"


class NotAMember(PermissionDenied):
    code = "not_a_member"


class CrossOrganization(PermissionDenied):
    code = "cross_organization"


class Escalation(PermissionDenied):
    code = "escalation"


class LastOwner(Refused):
    code = "last_owner"


class Conflict(Refused):
    code = "conflict"


class InvalidRequest(Refused):
    code = "invalid"


class AlreadyApplied(Exception):
    """The message that carried this command was applied before: its effect must not repeat."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id!r} was already applied")
        self.message_id = message_id


class EventAlreadyRecorded(Exception):
    """An event with this id was recorded before: an answer to a message that came again."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id!r} was already recorded")
        self.event_id = event_id


class MessageIdReused(Exception):
    """A message arrived under an id that a different command already spent: it is not run, since the id
    can have only one outcome, nor dropped as a duplicate, since its command was never carried out."""

    reason = "message_id_reused"
    rejection = "recorded"
    """Whether its rejection was recorded now, or by a copy of this message before (``duplicate``)."""

    def __init__(self, message_id: str, actor: str) -> None:
        super().__init__(
            f"message id {message_id!r} was already used by a different command; this {actor} was not run:"
            " send it under a new message id"
        )
        self.message_id = message_id
        self.actor = actor
