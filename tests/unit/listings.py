"""Folder listings for the cache tests."""

from __future__ import annotations

from domain.listing import FolderListing, ListedDocument
from domain.model import Document
from tests.unit.fakes import EPOCH


def listing_of(folder_id: str, version: int, size: int = 2, readers: int = 1) -> FolderListing:
    entries = [
        ListedDocument(
            Document(
                f"{folder_id}-d{i}",
                "acme",
                folder_id,
                "alice",
                "a.pdf",
                "application/pdf",
                1,
                "s3://b/a.pdf",
                (),
                EPOCH,
                EPOCH,
            ),
            frozenset({"alice", *(f"reader-{n}" for n in range(readers - 1))}),
        )
        for i in range(size)
    ]
    return FolderListing.newest_first(folder_id, "acme", version, entries)
