"""Entities and value objects: plain classes that know nothing of storage or transport."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from unicodedata import normalize

from domain.errors import InvalidRequest
from domain.roles import Role


def utc_now() -> datetime:
    return datetime.now(UTC)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRequest("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def same_name(first: str, second: str) -> bool:
    """Whether two names read as one: compared in Unicode's composed form (NFC), so "é" sent as one code
    point (as most keyboards and web forms write it) or as "e" and a combining accent (as macOS writes
    file names) is the same name, as are the other pairs NFC makes one (the Ångström sign and "Å", a CJK
    compatibility ideograph and its unified form). Case, compatibility forms ("ﬁ" and "fi", full-width
    letters) and look-alikes of other scripts (Latin "a" and Cyrillic U+0430) stay distinct."""
    return first == second or normalize("NFC", first) == normalize("NFC", second)


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: str
    user_id: str


@dataclass
class Folder:
    """A node of an organization's folder tree, linked to its parent by ``parent_id``."""

    id: str
    org_id: str
    name: str
    parent_id: str | None
    created_by: str
    created_at: datetime
    listing_version: int = 0

    @classmethod
    def create(
        cls,
        *,
        folder_id: str,
        org_id: str,
        name: str,
        parent: Folder | None,
        created_by: str,
        now: datetime,
    ) -> Folder:
        if not name.strip():
            raise InvalidRequest("a folder name cannot be blank")
        if "/" in folder_id:
            raise InvalidRequest("a folder id cannot contain '/': it separates the ids of a folder's path")
        return cls(
            id=folder_id,
            org_id=org_id,
            name=name,
            parent_id=parent.id if parent is not None else None,
            created_by=created_by,
            created_at=_require_aware(now),
        )

    def same_as_request(self, org_id: str, name: str, parent_id: str | None) -> bool:
        return self.is_sibling_named(org_id, parent_id, name)

    def is_sibling_named(self, org_id: str, parent_id: str | None, name: str) -> bool:
        """Whether a folder of that name under that parent would take this one's place."""
        return (self.org_id, self.parent_id) == (org_id, parent_id) and same_name(self.name, name)


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """What an upload says about the file; the bytes themselves live behind ``blob_uri``."""

    name: str
    mime_type: str
    blob_uri: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    org_id: str
    folder_id: str
    owner_id: str
    name: str
    mime_type: str
    version: int
    blob_uri: str
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    uploaded_by: str = field(default="")

    @classmethod
    def first_version(
        cls,
        *,
        doc_id: str,
        org_id: str,
        folder_id: str,
        owner_id: str,
        content: DocumentContent,
        now: datetime,
    ) -> Document:
        moment = _require_aware(now)
        return cls(
            id=doc_id,
            org_id=org_id,
            folder_id=folder_id,
            owner_id=owner_id,
            name=content.name,
            mime_type=content.mime_type,
            version=1,
            blob_uri=content.blob_uri,
            tags=content.tags,
            created_at=moment,
            updated_at=moment,
            uploaded_by=owner_id,
        )

    def next_version(self, *, content: DocumentContent, uploaded_by: str, now: datetime) -> Document:
        moment = max(_require_aware(now), self.updated_at)
        return replace(
            self,
            name=content.name,
            mime_type=content.mime_type,
            blob_uri=content.blob_uri,
            tags=content.tags,
            version=self.version + 1,
            updated_at=moment,
            uploaded_by=uploaded_by,
        )


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    document_id: str
    user_id: str
    role: Role
