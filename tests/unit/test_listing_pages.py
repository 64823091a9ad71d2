"""A listing's pages: from any position, exactly the visible entries after it, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.listing import FolderListing, ListedDocument
from domain.model import Document

EPOCH = datetime(2024, 5, 1, tzinfo=UTC)
moments = st.integers(min_value=0, max_value=5).map(lambda seconds: EPOCH + timedelta(seconds=seconds))
doc_ids = st.sampled_from([f"d{n}" for n in range(12)])


def _entry(doc_id: str, created_at: datetime, readers: frozenset[str]) -> ListedDocument:
    document = Document(
        doc_id, "acme", "f1", "alice", "a.pdf", "text/plain", 1, "s3://b/a", (), created_at, created_at
    )
    return ListedDocument(document, readers)


entries = st.lists(
    st.builds(_entry, doc_ids, moments, st.frozensets(st.sampled_from(["alice", "bob"]), max_size=2)),
    unique_by=lambda entry: entry.document.id,
    max_size=12,
)


@given(entries, st.one_of(st.none(), st.tuples(moments, doc_ids)), st.integers(min_value=1, max_value=5))
def test_a_page_starts_right_after_its_position_whatever_the_ties(
    listed: list[ListedDocument], after: tuple[datetime, str] | None, limit: int
) -> None:
    listing = FolderListing.newest_first("f1", "acme", 1, listed)
    expected = [
        entry.document
        for entry in listing.entries
        if "bob" in entry.readers and (after is None or entry.sort_key < after)
    ]

    page = listing.page_for("bob", limit, after)

    assert list(page.documents) == expected[:limit]
    assert (page.next_cursor is not None) == (len(expected) > limit)
