"""Compact JSON for cached documents and listings.

Each value is a JSON array whose first element is ``FORMAT``; a document is a positional array rather
than an object, which keeps a 1,000-document listing small and quick to decode. Timestamps travel as
integer microseconds since the Unix epoch, so they come back as exact, UTC-aware datetimes.
Change the layout only together with a new ``FORMAT``: a value of another format is unreadable, never
misread.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.listing import FolderListing, ListedDocument
from domain.model import Document

FORMAT = 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DOCUMENT_FIELDS = 12


class UnreadableEntry(ValueError):
    """A cached value that is not a well-formed value of this ``FORMAT``: treat it as a miss."""


def encode_document(document: Document) -> bytes:
    return _dump([FORMAT, _document_row(document)])


def decode_document(raw: bytes) -> Document:
    try:
        row = _load(raw)[1]
        return _document_from(row)
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        raise UnreadableEntry(f"not a cached document: {error}") from error


def encode_listing(listing: FolderListing) -> bytes:
    entries = [[*_document_row(entry.document), list(entry.readers)] for entry in listing.entries]
    return _dump([FORMAT, listing.folder_id, listing.org_id, listing.version, entries])


def decode_listing(raw: bytes) -> FolderListing:
    try:
        _, folder_id, org_id, version, rows = _load(raw)
        entries = tuple(ListedDocument(_document_from(row), frozenset(row[_DOCUMENT_FIELDS])) for row in rows)
        return FolderListing(_text(folder_id), _text(org_id), _int(version), entries)
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        raise UnreadableEntry(f"not a cached folder listing: {error}") from error


def _dump(value: list[Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _load(raw: bytes) -> list[Any]:
    value = json.loads(raw)
    if not isinstance(value, list) or not value or value[0] != FORMAT:
        raise UnreadableEntry(f"not a value of cache format {FORMAT}")
    return value


def _document_row(document: Document) -> list[Any]:
    return [
        document.id,
        document.org_id,
        document.folder_id,
        document.owner_id,
        document.name,
        document.mime_type,
        document.version,
        document.blob_uri,
        list(document.tags),
        _micros(document.created_at),
        _micros(document.updated_at),
        document.uploaded_by,
    ]


def _document_from(row: list[Any]) -> Document:
    if len(row) < _DOCUMENT_FIELDS:
        raise UnreadableEntry(f"a document needs {_DOCUMENT_FIELDS} fields, got {len(row)}")
    return Document(
        id=row[0],
        org_id=row[1],
        folder_id=row[2],
        owner_id=row[3],
        name=row[4],
        mime_type=row[5],
        version=row[6],
        blob_uri=row[7],
        tags=tuple(row[8]),
        created_at=_EPOCH + _MICROSECOND * row[9],
        updated_at=_EPOCH + _MICROSECOND * row[10],
        uploaded_by=row[11],
    )


def _micros(moment: datetime) -> int:
    """Whole microseconds since the epoch; a naive datetime raises, as the domain never makes one."""
    return (moment - _EPOCH) // _MICROSECOND


def _int(value: Any) -> int:
    if type(value) is not int:
        raise UnreadableEntry(f"expected an integer, got {value!r}")
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise UnreadableEntry(f"expected a string, got {value!r}")
    return value
