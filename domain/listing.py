"""A folder's listing: every document in it with the users who may view each, newest first.

The same object is built from the database or decoded from the cache, and ``page_for`` is the one access
rule both paths apply: a user sees a document only if it holds a role on it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidRequest
from domain.model import Document

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ListedDocument:
    document: Document
    readers: frozenset[str]

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.document.created_at, self.document.id)


@dataclass(frozen=True, slots=True)
class DocumentPage:
    documents: tuple[Document, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class FolderListing:
    folder_id: str
    org_id: str
    version: int
    entries: tuple[ListedDocument, ...]

    @classmethod
    def newest_first(
        cls, folder_id: str, org_id: str, version: int, entries: list[ListedDocument]
    ) -> FolderListing:
        ordered = sorted(entries, key=lambda entry: entry.sort_key, reverse=True)
        return cls(folder_id, org_id, version, tuple(ordered))

    def page_for(self, user_id: str, limit: int, after: tuple[datetime, str] | None) -> DocumentPage:
        """Up to ``limit`` documents the user may read, from ``after`` (as ``page_position`` gives it) on."""
        entries = self.entries
        start = 0 if after is None else _first_after(entries, after)
        visible = (entries[i] for i in range(start, len(entries)) if user_id in entries[i].readers)
        page: list[ListedDocument] = []
        for entry in visible:
            if len(page) == limit:
                return DocumentPage(tuple(e.document for e in page), encode_cursor(page[-1].sort_key))
            page.append(entry)
        return DocumentPage(tuple(e.document for e in page), None)


def _first_after(entries: tuple[ListedDocument, ...], after: tuple[datetime, str]) -> int:
    """The index of the first entry, newest first, that comes after ``after``: a binary search, so that
    a page deep into a large folder does not walk every entry before it."""
    low, high = 0, len(entries)
    while low < high:
        middle = (low + high) // 2
        if entries[middle].sort_key < after:
            high = middle
        else:
            low = middle + 1
    return low


def page_position(limit: int, cursor: str | None) -> tuple[datetime, str] | None:
    """Where a page of ``limit`` documents starts; raises ``InvalidRequest`` for a bad limit or cursor."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    return decode_cursor(cursor) if cursor is not None else None


def encode_cursor(position: tuple[datetime, str]) -> str:
    created_at, doc_id = position
    raw = f"{created_at.isoformat()}|{doc_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """A cursor is only a position; a forged one can at most start the page elsewhere."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, doc_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        position = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise InvalidRequest("the cursor is malformed; pass back a next_cursor unchanged") from error
    if position.tzinfo is None or not doc_id:
        raise InvalidRequest("the cursor is malformed; pass back a next_cursor unchanged")
    return position, doc_id
