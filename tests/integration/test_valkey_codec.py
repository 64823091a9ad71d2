from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.valkey.codec import FORMAT, UnreadableEntry, decode_listing, encode_listing
from domain.listing import FolderListing, ListedDocument
from domain.model import Document
from tests.integration.test_valkey_support import MOMENT, a_document

pytestmark = pytest.mark.integration


def a_listing_holding(document: Document) -> FolderListing:
    entry = ListedDocument(document, frozenset({"ana"}))
    return FolderListing(document.folder_id, document.org_id, 1, (entry,))


def the_document_in(raw: bytes) -> Document:
    [entry] = decode_listing(raw).entries
    return entry.document


def test_a_listed_document_round_trips_to_an_equal_document_with_real_utc_datetimes() -> None:
    document = a_document()

    decoded = the_document_in(encode_listing(a_listing_holding(document)))

    assert decoded == document
    assert isinstance(decoded.created_at, datetime)
    assert decoded.created_at.tzinfo is UTC
    assert decoded.updated_at.tzinfo is UTC
    assert isinstance(decoded.tags, tuple)
    assert type(decoded.version) is int


def test_an_aware_datetime_in_another_zone_comes_back_as_the_same_instant_in_utc() -> None:
    lisbon_summer = MOMENT.astimezone(timezone(timedelta(hours=1)))

    decoded = the_document_in(encode_listing(a_listing_holding(a_document(created_at=lisbon_summer))))

    assert decoded.created_at == MOMENT
    assert decoded.created_at.tzinfo is UTC


def test_a_listing_round_trips_with_readers_as_frozensets() -> None:
    listing = FolderListing.newest_first(
        "folder-1",
        "org-1",
        7,
        [
            ListedDocument(a_document("doc-1"), frozenset({"ana", "bo"})),
            ListedDocument(a_document("doc-2", tags=(), created_at=MOMENT + timedelta(days=1)), frozenset()),
        ],
    )

    decoded = decode_listing(encode_listing(listing))

    assert decoded == listing
    assert [type(entry.readers) for entry in decoded.entries] == [frozenset, frozenset]
    assert isinstance(decoded.entries, tuple)


def test_an_empty_listing_round_trips() -> None:
    listing = FolderListing("folder-1", "org-1", 0, ())

    assert decode_listing(encode_listing(listing)) == listing


def test_the_encoding_is_compact_and_starts_with_its_format() -> None:
    raw = encode_listing(a_listing_holding(a_document(name="plain")))

    assert json.loads(raw)[0] == FORMAT
    assert b", " not in raw
    assert b": " not in raw


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        b"[]",
        json.dumps([FORMAT + 1, "folder-1", "org-1", 7, []]).encode(),
        json.dumps([FORMAT, "folder-1", "org-1", "7", []]).encode(),
        json.dumps([FORMAT, "folder-1", "org-1", 7, [["doc-1"]]]).encode(),
    ],
)
def test_a_value_that_is_not_a_listing_of_this_format_is_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableEntry):
        decode_listing(raw)


def test_a_listing_of_another_format_is_unreadable() -> None:
    raw = encode_listing(a_listing_holding(a_document()))

    with pytest.raises(UnreadableEntry):
        decode_listing(raw.replace(f"[{FORMAT},".encode(), f"[{FORMAT + 1},".encode(), 1))


_text = st.text(max_size=20)
_moments = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.one_of(
        st.just(UTC),
        st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))),
    ),
)
_documents = st.builds(
    Document,
    id=_text,
    org_id=_text,
    folder_id=_text,
    owner_id=_text,
    name=_text,
    mime_type=_text,
    version=st.integers(min_value=0, max_value=2**53),
    blob_uri=_text,
    tags=st.lists(_text, max_size=4).map(tuple),
    created_at=_moments,
    updated_at=_moments,
    uploaded_by=_text,
)


@given(st.lists(st.tuples(_documents, st.frozensets(_text, max_size=4)), max_size=5), _text)
def test_any_listing_round_trips(rows: list[tuple[Document, frozenset[str]]], folder_id: str) -> None:
    listing = FolderListing(folder_id, "org-1", 4, tuple(ListedDocument(doc, who) for doc, who in rows))

    assert decode_listing(encode_listing(listing)) == listing
