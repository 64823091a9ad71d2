"""The in-process listing cache's bound holds in memory, whatever text its documents hold."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from datetime import timedelta

import pytest

from adapters.valkey.codec import decode_listing, encode_listing
from adapters.valkey.near_listings import NearListingCache, weight
from domain.listing import FolderListing, ListedDocument
from domain.model import Document
from tests.unit.fakes import EPOCH, FakeListingCache
from tests.unit.listings import listing_of

PROMISED_BYTES = 1_200  # a document of two readers, decoded: LISTING_MEMORY_DOCUMENTS's unit (README)


class _ForgetfulCache(FakeListingCache):
    def put(self, listing: FolderListing) -> None:
        pass


def _document(index: int, kind: str) -> ListedDocument:
    """An ordinary document; one holding all the text the contract allows (§3), outside ASCII; one of
    200 readers with ids of 128 characters; one of 50 tags of a character outside ASCII."""
    owner, name = "alice", f"Q3 report {index}.pdf"
    tags: tuple[str, ...] = ("q3", "finance")
    blob, readers = f"s3://acme/doc-{index}/v1.pdf", frozenset({"alice", "bob"})
    if kind == "largest":
        owner = "u" * 120 + f"{index:08d}"
        name, blob = "\U0001f4c4" * 254 + "x", "s3://bucket/" + "a" * 2030 + f"{index:06d}"
        tags = tuple(f"{tag:02d}" + "\U0001f3f7" * 62 for tag in range(50))
        readers = frozenset({owner, "bob"})
    elif kind == "long readers":
        readers = frozenset({f"{'r' * 120}{index:04d}{reader:04d}" for reader in range(200)})
    elif kind == "short tags":
        tags = tuple(chr(0x4E00 + tag) for tag in range(50))
    moment = EPOCH + timedelta(microseconds=index)
    document = Document(
        f"doc-{index:08d}", "acme", "f", owner, name, "application/pdf", 1, blob, tags, moment, moment, owner
    )
    return ListedDocument(document, readers)


def _decoded(folder_id: str, entries: list[ListedDocument]) -> FolderListing:
    """As a worker holds a listing it read from the shared cache: decoded from its encoding."""
    return decode_listing(encode_listing(FolderListing.newest_first(folder_id, "acme", 1, entries)))


def _loaded(folder_id: str, entries: list[ListedDocument]) -> FolderListing:
    """As a worker holds a listing it loaded from Postgres, then wrote to the shared cache: encoding it
    left in each string outside ASCII the UTF-8 copy Python keeps once a string was encoded."""
    listing = FolderListing.newest_first(folder_id, "acme", 1, entries)
    encode_listing(listing)
    return listing


@pytest.mark.parametrize("held_as", [_decoded, _loaded])
@pytest.mark.parametrize(
    ("kind", "per_folder"),  # enough of them, in 40 folders, to fill the bound
    [("ordinary", 125), ("largest", 25), ("long readers", 5), ("short tags", 125)],
)
def test_the_bound_holds_about_a_documents_worth_of_memory_per_unit(
    kind: str, per_folder: int, held_as: Callable[[str, list[ListedDocument]], FolderListing]
) -> None:
    near = NearListingCache(_ForgetfulCache(), max_documents=4_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for folder in range(40):
            entries = [_document(folder * per_folder + n, kind) for n in range(per_folder)]
            near.put(held_as(f"f{folder}", entries))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert near.held_documents() >= 3_000  # the bound is used: this is a measure of a full cache
    assert held / near.held_documents() <= 1.25 * PROMISED_BYTES


def test_a_document_holding_the_most_text_the_contract_allows_weighs_many() -> None:
    ordinary = _decoded("f1", [_document(n, "ordinary") for n in range(10)])
    largest = _decoded("f2", [_document(n, "largest") for n in range(10)])

    assert weight(ordinary) == 10
    assert weight(largest) >= 10 * 15  # each takes about 21 KB decoded


def test_two_readers_of_short_ids_still_weigh_one_document_each() -> None:
    assert weight(listing_of("f1", 1, size=30, readers=2)) == 30
