"""What docfleet sends out, as pydantic models: the events on ``doc.events``, the result of ``list_folder``.

The event models describe exactly what ``adapters.event_codec.to_wire`` produces (a test holds them to it);
``python -m workers.schemas`` turns them into ``schemas/events/<Type>.json``. Events carry metadata only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from domain.listing import DocumentPage
from domain.model import Document

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
RFC3339_UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
REASONS = "invalid, not_found, not_a_member, permission_denied, cross_organization, escalation, last_owner, "
REASONS += "conflict"

Timestamp = Annotated[
    str, StringConstraints(pattern=RFC3339_UTC_PATTERN), Field(description="RFC 3339, in UTC (Z).")
]
Reason = Annotated[str, Field(description=f"A machine-readable code: {REASONS}; more may be added.")]
SHARE_DENIED_REASONS = "not_a_member, permission_denied, escalation, last_owner"
ShareDeniedReason = Annotated[
    str, Field(description=f"A machine-readable code: {SHARE_DENIED_REASONS}; more may be added.")
]
RoleName = Literal["viewer", "editor", "owner"]
RejectionReason = Annotated[
    str,
    Field(description=f"A machine-readable code: {REASONS}, message_id_reused; more may be added."),
]


def _no_default(schema: dict[str, Any]) -> None:
    """An optional field is absent when unknown, never null: its schema shows no null default."""
    schema.pop("default", None)


def rfc3339(moment: datetime) -> str:
    """The one timestamp format docfleet emits, as the event codec writes ``occurred_at``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    event_id: Annotated[str, StringConstraints(pattern=UUID_PATTERN), Field(description="Deduplicate on it.")]
    schema_version: Literal[1]
    occurred_at: Timestamp
    # Absent, never null: the default is not validated, an explicit null is refused.
    message_id: Annotated[
        str,
        Field(
            description="The message_id of the command message whose transaction recorded the event"
            " (several events may share it); absent from events an older release recorded.",
            json_schema_extra=_no_default,
        ),
    ] = None  # type: ignore[assignment]


class _OrgEvent(_Event):
    org_id: str


class _DocumentEvent(_OrgEvent):
    document_id: str


class MemberAdded(_OrgEvent):
    """A user became a member of an organization (the organization exists from its first member on)."""

    type: Literal["MemberAdded"]
    user_id: str


class FolderCreated(_OrgEvent):
    """A folder was created; parent_id is null for a folder at the root of the organization."""

    type: Literal["FolderCreated"]
    folder_id: str
    parent_id: str | None
    name: str
    created_by: str


class DocumentUploaded(_DocumentEvent):
    """A version of a document was stored: version 1 creates it, later versions replace its metadata."""

    type: Literal["DocumentUploaded"]
    owner_id: Annotated[str, Field(description="The document's owner: who uploaded its first version.")]
    uploaded_by: Annotated[str, Field(description="Who uploaded this version.")]
    folder_id: str
    version: Annotated[int, Field(ge=1)]
    name: str
    mime_type: str


class DocumentShared(_DocumentEvent):
    """A user was granted a role on a document, or had its role changed: previous_role tells the two apart."""

    type: Literal["DocumentShared"]
    shared_by: str
    shared_with: str
    role: RoleName
    previous_role: Annotated[
        RoleName | None,
        Field(
            description="The role shared_with held before: null for a new grant; a higher one for a"
            " demotion, a lower one for a promotion. Absent from events an older release recorded.",
            json_schema_extra=_no_default,
        ),
    ] = None


class AccessRevoked(_DocumentEvent):
    """A user's role on a document was removed."""

    type: Literal["AccessRevoked"]
    revoked_by: str
    user_id: str
    # Absent, never null: the default is not validated, an explicit null is refused.
    role: Annotated[
        RoleName,
        Field(
            description="The role user_id held, now removed; absent from events an older release recorded.",
            json_schema_extra=_no_default,
        ),
    ] = None  # type: ignore[assignment]


class ShareDenied(_DocumentEvent):
    """A share_document command was refused by the rules; nothing changed."""

    type: Literal["ShareDenied"]
    shared_by: str
    shared_with: str
    role: RoleName
    reason: ShareDeniedReason
    detail: str
    message_id: Annotated[str, Field(description="The refused share_document message's message_id.")]


class CommandRejected(_Event):
    """A command was refused by the rules, found invalid, gave up waiting for what it names, or came under a
    message id that a different command had spent."""

    type: Literal["CommandRejected"]
    org_id: Annotated[
        str | None,
        Field(
            description="The command's organization; without a readable one, that of the document it names;"
            " null when neither can be known."
        ),
    ]
    document_id: str | None
    message_id: Annotated[str, Field(description="The rejected message's message_id.")]
    actor: Annotated[str, Field(description="The rejected message's actor_name.")]
    reason: RejectionReason
    detail: Annotated[str, Field(description="For people: what was wrong, e.g. each invalid field.")]
    folder_id: Annotated[
        str | None,
        Field(
            description="The folder the command creates (create_folder) or uploads into (upload_document);"
            " null for other actors or when the message named none that could be read; absent from events"
            " an older release recorded."
        ),
    ] = None
    user_id: Annotated[
        str | None,
        Field(
            description="The user the command adds as a member (add_member) or takes a role from"
            " (revoke_access); null for other actors or when the message named none that could be read;"
            " absent from events an older release recorded."
        ),
    ] = None


EVENTS: dict[str, tuple[type[_Event], str]] = {
    "MemberAdded": (MemberAdded, "member.added"),
    "FolderCreated": (FolderCreated, "folder.created"),
    "DocumentUploaded": (DocumentUploaded, "document.uploaded"),
    "DocumentShared": (DocumentShared, "document.shared.<role>"),
    "AccessRevoked": (AccessRevoked, "document.access_revoked"),
    "ShareDenied": (ShareDenied, "document.share_denied"),
    "CommandRejected": (CommandRejected, "command.rejected.<actor_name>"),
}


class DocumentView(BaseModel):
    """A document as list_folder returns it: metadata and where the bytes are, never the bytes."""

    id: str
    org_id: str
    folder_id: str
    owner_id: str
    name: str
    mime_type: str
    version: Annotated[int, Field(ge=1)]
    blob_uri: str
    tags: list[str]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, document: Document) -> DocumentView:
        return cls(
            **{name: getattr(document, name) for name in cls.model_fields if not name.endswith("_at")},
            created_at=rfc3339(document.created_at),
            updated_at=rfc3339(document.updated_at),
        )


QUERY_REASONS = "not_a_member, not_found, invalid"
QueryReason = Annotated[
    str, Field(description=f"A machine-readable code: {QUERY_REASONS}; more may be added.")
]


class QueryError(BaseModel):
    reason: QueryReason
    detail: str


class ListFolderResult(BaseModel):
    """The result of list_folder; error is present only when the query was refused (documents is then [])."""

    documents: list[DocumentView]
    next_cursor: Annotated[str | None, Field(description="Pass it back for the next page; null at the end.")]
    error: Annotated[
        QueryError | SkipJsonSchema[None],
        Field(
            description="Only when the query was refused: absent, never null, otherwise.",
            json_schema_extra=_no_default,
        ),
    ] = None


class FailureCause(BaseModel):
    type: Annotated[
        str,
        Field(
            description="What failed it: InvalidMessage (invalid or unreadable), QueryExpired (taken up after"
            " RESULT_TTL_MS), SkipMessage (dead-lettered past the redelivery limit: the workers that took"
            " it stopped before settling it too often), or the name of a fault's exception after its"
            " retries."
        ),
    ]
    msg: Annotated[str, Field(description="Why, for a person: the problems found, or the fault's message.")]


class ListFolderFailure(BaseModel):
    """A list_folder's result entry when the query was not answered (Python's get_result raises it)."""

    model_config = ConfigDict(populate_by_name=True)

    canary: Literal["dramatiq.results.Result"] = Field(alias="__t", title="Dramatiq's failure marker")
    exn: FailureCause


def page_result(page: DocumentPage) -> dict[str, Any]:
    views = [DocumentView.of(document) for document in page.documents]
    return ListFolderResult(documents=views, next_cursor=page.next_cursor).model_dump(exclude={"error"})


def refusal_result(reason: str, detail: str) -> dict[str, Any]:
    error = QueryError(reason=reason, detail=detail)
    return ListFolderResult(documents=[], next_cursor=None, error=error).model_dump()
