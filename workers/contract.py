"""The message contract: each actor's keyword arguments, as strict pydantic models, and their parsing.

These models are the single source of the actors' validation and of the JSON Schemas in ``schemas/``
(``python -m workers.schemas``). Validation is strict: no coercion (1 is not "1"), no unknown field, and
every problem of a message is listed at once, in words a person can act on. The field types are in
``workers.contract_fields``, the problems' wording in ``workers.contract_problems``. See docs/contract.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from domain.commands import (
    AddMember,
    Command,
    CreateFolder,
    ListFolderDocuments,
    RevokeAccess,
    ShareDocument,
    UploadDocument,
)
from domain.listing import MAX_PAGE_SIZE
from domain.roles import Role
from workers.contract_fields import BlobUri, Id, MimeType, Name, Tag, distinct, is_id
from workers.contract_problems import cap, problems_of

COMMANDS_QUEUE = "documents"
QUERIES_QUEUE = "documents-queries"
MAX_MESSAGE_BYTES = 256 * 1024
MAX_TAGS = 50


class InvalidMessage(Exception):
    """A message that can never be carried out as sent: it is dead-lettered at once, never retried."""

    def __init__(self, actor: str, problems: Sequence[str]) -> None:
        self.actor = actor
        self.problems = tuple(problems)
        super().__init__(f"invalid {actor} message: " + "; ".join(self.problems))


class _Kwargs(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)

    def to_domain(self) -> Command | ListFolderDocuments:
        raise NotImplementedError

    def _fields(self) -> dict[str, Any]:
        """The validated fields by name. Every field is a text, a number or a list of texts, which
        ``model_dump`` would copy as they are: read directly, they cost a command 1.8 µs less."""
        return dict(self.__dict__)


class AddMemberKwargs(_Kwargs):
    """Makes user_id a member of org_id; the organization exists from its first member on."""

    org_id: Id
    user_id: Id

    def to_domain(self) -> AddMember:
        return AddMember(**self._fields())


class CreateFolderKwargs(_Kwargs):
    """Creates a folder at the root of the organization, or under parent_id; created_by must be a member."""

    folder_id: Id
    org_id: Id
    name: Name
    parent_id: Id | None = None
    created_by: Id

    @field_validator("parent_id")
    @classmethod
    def _not_its_own_parent(cls, parent_id: str | None, info: ValidationInfo) -> str | None:
        if parent_id is not None and parent_id == info.data.get("folder_id"):
            raise ValueError("must not be the folder itself")
        return parent_id

    def to_domain(self) -> CreateFolder:
        return CreateFolder(**self._fields())


class UploadDocumentKwargs(_Kwargs):
    """Uploads version 1 of a new document, owned by owner_id (the uploading user), or a new version."""

    doc_id: Id
    org_id: Id
    folder_id: Id
    owner_id: Id
    name: Name
    mime_type: MimeType
    blob_uri: BlobUri
    tags: Annotated[
        list[Tag],
        Field(max_length=MAX_TAGS, json_schema_extra={"uniqueItems": True}),
        AfterValidator(distinct),
    ] = []

    def to_domain(self) -> UploadDocument:
        return UploadDocument(**{**self._fields(), "tags": tuple(self.tags)})


class ShareDocumentKwargs(_Kwargs):
    """Grants role on doc_id to shared_with, a member of the document's organization."""

    doc_id: Id
    shared_by: Id
    shared_with: Id
    role: Literal["viewer", "editor", "owner"]

    def to_domain(self) -> ShareDocument:
        return ShareDocument(**{**self._fields(), "role": Role(self.role)})


class RevokeAccessKwargs(_Kwargs):
    """Removes user_id's role on doc_id; the last owner of a document cannot be removed."""

    doc_id: Id
    revoked_by: Id
    user_id: Id

    def to_domain(self) -> RevokeAccess:
        return RevokeAccess(**self._fields())


class ListFolderKwargs(_Kwargs):
    """Lists, newest first, the documents of folder_id that requested_by may view, one page at a time."""

    folder_id: Id
    requested_by: Id
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 100
    cursor: Annotated[str | None, Field(max_length=1024, description="A next_cursor, unchanged.")] = None

    def to_domain(self) -> ListFolderDocuments:
        return ListFolderDocuments(**self._fields())


COMMANDS: dict[str, type[_Kwargs]] = {
    "add_member": AddMemberKwargs,
    "create_folder": CreateFolderKwargs,
    "upload_document": UploadDocumentKwargs,
    "share_document": ShareDocumentKwargs,
    "revoke_access": RevokeAccessKwargs,
}
QUERIES: dict[str, type[_Kwargs]] = {"list_folder": ListFolderKwargs}
ACTOR_KWARGS: dict[str, type[_Kwargs]] = {**COMMANDS, **QUERIES}
ID_FIELDS: tuple[str, ...] = ("org_id", "doc_id", "folder_id", "parent_id", "user_id", "owner_id")
ID_FIELDS += ("created_by", "shared_by", "shared_with", "revoked_by", "requested_by")
REJECTION_IDS: tuple[str, ...] = ("org_id", "doc_id", "folder_id", "user_id")
"""The ids a CommandRejected names (the keywords of ``domain.use_cases.dispatch.rejection``)."""
_UNKNOWN_ACTORS_IDS = ("org_id", "doc_id")  # no arguments to go by: the producer's own, as sent


def rejection_ids(
    actor: str, ids: Mapping[str, str], found: Mapping[str, str | None] | None = None
) -> dict[str, str | None]:
    """The ids a message's CommandRejected names: those of ``ids`` (its well-formed ones) that its actor
    takes as arguments, a stray one in an invalid message not being the command's (an ``org_id`` sent
    to ``share_document`` would put the rejection in another organization's stream), then what its
    failure ``found`` (the organization of the document a not-found names)."""
    own = ACTOR_KWARGS.get(actor)
    taken = own.model_fields if own is not None else _UNKNOWN_ACTORS_IDS
    named = {name: ids.get(name) if name in taken else None for name in REJECTION_IDS}
    return named | {name: value for name, value in (found or {}).items() if value}


def queue_of(actor_name: str) -> str:
    return QUERIES_QUEUE if actor_name in QUERIES else COMMANDS_QUEUE


def ids_in(kwargs: object) -> dict[str, str]:
    """The well-formed ids among a message's kwargs, safe to log or to put in a rejection event."""
    if not isinstance(kwargs, Mapping):
        return {}
    return {name: kwargs[name] for name in ID_FIELDS if is_id(kwargs.get(name))}


def parse_command(actor_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Command:
    command = parse(actor_name, args, kwargs)
    if isinstance(command, ListFolderDocuments):
        raise InvalidMessage(actor_name, [f"actor: {actor_name} is a query, not a command"])
    return command


def command_or_none(actor_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Command | None:
    """The command a message carries, or None where it does not read as one: for the callers that only
    want its fingerprint, and must not fail for want of it."""
    try:
        return parse_command(actor_name, args, kwargs)
    except Exception:  # InvalidMessage, or against all odds anything else: None says "unknown"
        return None


def parse_query(actor_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> ListFolderDocuments:
    query = parse(actor_name, args, kwargs)
    if not isinstance(query, ListFolderDocuments):
        raise InvalidMessage(actor_name, [f"actor: {actor_name} is a command, not a query"])
    return query


def parse(actor_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Command | ListFolderDocuments:
    """The domain command or query a message asks for, or ``InvalidMessage`` listing every problem."""
    model = ACTOR_KWARGS.get(actor_name)
    if model is None:
        raise InvalidMessage(actor_name, [f"actor: there is no actor named {actor_name[:64]!r}"])
    problems = [f"args: positional arguments are not accepted ({len(args)} given)"] if args else []
    try:
        validated = model.model_validate(kwargs)
    except ValidationError as error:
        problems += problems_of(error)
    if problems:
        raise InvalidMessage(actor_name, cap(problems))
    return validated.to_domain()
