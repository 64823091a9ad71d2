"""A folder's listing: every document in it with the users who may view each, newest first.

The same object is built from the database or decoded from the cache, and ``page_for`` is the one access
rule both paths apply: a user sees a document only if it holds a role on it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import islice

from domain.errors import InvalidRequest
from domain.model import Document

MAX_PAGE_SIZE = 1000
# A folder above this is paged by the database, a page at a time, and never cached whole: its listing
# took longer to build on every change (about 2 s at 100,000 documents) than a page's own query.
WHOLE_LISTING_MAX_DOCUMENTS = 5_000
# Nor is one whose documents hold more text than this (names, URIs, tags, readers: a document may hold
# about 20,000 characters): 5,000 such documents took 2.5 s to load, were too large to store in Valkey
# or keep in memory, and so were loaded whole again for every page.
WHOLE_LISTING_MAX_CHARACTERS = 4 * 1024 * 1024
# A page stops short of its limit where its documents' text would pass this (it holds one document at
# least): 1,000 documents at the contract's largest fields held about 20 million characters, an answer
# of 43 MB in Valkey from one query message. Ordinary documents fill a page of 1,000 with a tenth of it.
PAGE_MAX_CHARACTERS = 1_000_000

PagePosition = tuple[datetime, str]  # (created_at, id) of the last document of the page before


@dataclass(frozen=True, slots=True)
class ListedDocument:
    document: Document
    readers: frozenset[str]

    @property
    def sort_key(self) -> PagePosition:
        return (self.document.created_at, self.document.id)


@dataclass(frozen=True, slots=True)
class DocumentPage:
    documents: tuple[Document, ...]
    next_cursor: str | None


@dataclass(frozen=True)  # no slots: a listing is one per folder, and caches its text's size
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

    def characters(self) -> int:
        """The text its documents and their readers hold, in characters."""
        return self._text_size

    @cached_property
    def _text_size(self) -> int:
        return sum(map(_characters, self.entries))

    def page_for(self, user_id: str, limit: int, after: PagePosition | None) -> DocumentPage:
        """Up to ``limit`` documents the user may read, from ``after`` (as ``page_position`` gives it) on."""
        entries = self.entries
        start = 0 if after is None else _first_after(entries, after)
        visible = (entries[i].document for i in range(start, len(entries)) if user_id in entries[i].readers)
        fits = self._text_size <= PAGE_MAX_CHARACTERS  # any page of it: its text need not be counted
        return page_of(list(islice(visible, limit + 1)), limit, fits=fits)


def _characters(entry: ListedDocument) -> int:
    return _text_of(entry.document) + sum(map(len, entry.readers))


def _text_of(document: Document) -> int:
    fixed = document.id, document.owner_id, document.uploaded_by, document.name, document.mime_type
    return sum(map(len, fixed)) + len(document.blob_uri) + sum(map(len, document.tags))


def page_of(documents: Sequence[Document], limit: int, *, fits: bool = False) -> DocumentPage:
    """The page of the first ``limit`` of ``documents``, which are visible and newest first, or fewer
    where their text would pass ``PAGE_MAX_CHARACTERS`` (unless it is known to ``fit``); one more than
    ``limit`` says that more follow, and the page's cursor then points past its last document."""
    taken = min(len(documents), limit) if fits else _fitting(documents, limit)
    if taken == len(documents):
        return DocumentPage(tuple(documents), None)
    page = tuple(documents[:taken])
    return DocumentPage(page, encode_cursor((page[-1].created_at, page[-1].id)))


def _fitting(documents: Sequence[Document], limit: int) -> int:
    """How many of the first ``limit`` documents a page holds: those whose text stays within the budget,
    and the first one whatever its size."""
    total = 0
    for taken, document in enumerate(documents[:limit]):
        total += _text_of(document)
        if total > PAGE_MAX_CHARACTERS and taken > 0:
            return taken
    return min(len(documents), limit)


def _first_after(entries: tuple[ListedDocument, ...], after: PagePosition) -> int:
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


def page_position(limit: int, cursor: str | None) -> PagePosition | None:
    """Where a page of ``limit`` documents starts; raises ``InvalidRequest`` for a bad limit or cursor."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    return decode_cursor(cursor) if cursor is not None else None


def encode_cursor(position: PagePosition) -> str:
    created_at, doc_id = position
    raw = f"{created_at.isoformat()}|{doc_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    """A cursor is only a position; a forged one can at most start the page elsewhere."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, doc_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        position = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeError) as error:
        raise InvalidRequest("the cursor is malformed; pass back a next_cursor unchanged") from error
    if position.tzinfo is None or not doc_id or "\x00" in doc_id:  # no id holds NUL, nor can Postgres text
        raise InvalidRequest("the cursor is malformed; pass back a next_cursor unchanged")
    return position, doc_id
