from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.commands import ListFolderDocuments, RevokeAccess, ShareDocument
from domain.errors import FolderNotFound, InvalidRequest, NotAMember
from domain.listing import MAX_PAGE_SIZE, DocumentPage, encode_cursor
from domain.roles import Role
from domain.use_cases.list_folder_documents import list_folder_documents
from domain.use_cases.revoke_access import revoke_access
from domain.use_cases.share_document import share_document
from tests.unit.fakes import EPOCH, FOLDER, OTHER_ORG, FakeDatabase, FakeListingCache


def _list(
    db: FakeDatabase,
    user: str,
    *,
    cache: FakeListingCache | None = None,
    limit: int = 100,
    cursor: str | None = None,
    folder: str = FOLDER,
) -> DocumentPage:
    query = ListFolderDocuments(folder_id=folder, requested_by=user, limit=limit, cursor=cursor)
    return list_folder_documents(query, db.uow(), cache if cache is not None else FakeListingCache())


def _ids(page: DocumentPage) -> list[str]:
    return [document.id for document in page.documents]


def _mixed_folder() -> FakeDatabase:
    """bob views d1 and d3; carol is a member with no role on any document."""
    return (
        FakeDatabase()
        .with_document("d1", owner="alice", viewers=["bob"], members=["carol"])
        .with_document("d2", owner="alice", name="secret-merger-plan.pdf")
        .with_document("d3", owner="alice", editors=["bob"])
    )


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_non_member_cannot_list_a_folder_nor_learn_its_organization() -> None:
    db = _mixed_folder().with_member("mallory", org=OTHER_ORG)
    with pytest.raises(NotAMember) as refused:
        _list(db, "mallory")
    assert refused.value.message == "user 'mallory' is not a member of the folder's organization"


def test_listing_a_missing_folder_is_folder_not_found() -> None:
    with pytest.raises(FolderNotFound):
        _list(FakeDatabase().with_member("alice"), "alice", folder="nowhere")


def test_a_member_without_a_role_sees_no_document_and_learns_no_name() -> None:
    page = _list(_mixed_folder(), "carol")
    assert page == DocumentPage((), None)


def test_a_user_sees_only_the_documents_it_may_view_newest_first() -> None:
    db = _mixed_folder()
    assert _ids(_list(db, "bob")) == ["d3", "d1"]
    assert _ids(_list(db, "alice")) == ["d3", "d2", "d1"]
    assert "secret-merger-plan.pdf" not in {document.name for document in _list(db, "bob").documents}


def test_newest_first_is_by_creation_time_not_by_id() -> None:
    db = (
        FakeDatabase()
        .with_document("a", owner="alice", created_at=EPOCH + timedelta(hours=3))
        .with_document("b", owner="alice", created_at=EPOCH + timedelta(hours=1))
        .with_document("c", owner="alice", created_at=EPOCH + timedelta(hours=2))
    )
    assert _ids(_list(db, "alice")) == ["a", "c", "b"]


def test_documents_of_other_folders_are_not_listed() -> None:
    db = _mixed_folder().with_document("elsewhere", owner="alice", viewers=["bob"], folder="other")
    assert "elsewhere" not in _ids(_list(db, "bob"))
    assert _ids(_list(db, "bob", folder="other")) == ["elsewhere"]


@given(
    visible=st.lists(st.booleans(), max_size=14),
    limit=st.integers(min_value=1, max_value=6),
    cached=st.booleans(),
)
def test_following_next_cursor_walks_every_visible_document_exactly_once(
    visible: list[bool], limit: int, cached: bool
) -> None:
    db = FakeDatabase().with_folder().with_member("bob")
    for index, bob_sees in enumerate(visible):
        db.with_document(f"d{index:02}", owner="alice", viewers=["bob"] if bob_sees else [])
    expected = [f"d{index:02}" for index, bob_sees in reversed(list(enumerate(visible))) if bob_sees]
    cache = FakeListingCache() if cached else None

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(len(visible) + 1):
        page = _list(db, "bob", cache=cache, limit=limit, cursor=cursor)
        assert len(page.documents) <= limit
        seen += _ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(page.documents) == limit
    assert cursor is None
    assert seen == expected


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        "abc",
        _b64("no separator here"),
        _b64("yesterday|d1"),
        _b64("2024-01-01T00:00:00|d1"),
        _b64("2024-01-01T00:00:00+00:00|"),
        _b64("2024-01-01T00:00:00+00:00|d\x00"),
        base64.urlsafe_b64encode(b"\xff\xfe|d1").decode(),
    ],
)
def test_a_malformed_or_forged_cursor_is_an_invalid_request(cursor: str) -> None:
    with pytest.raises(InvalidRequest, match="cursor"):
        _list(_mixed_folder(), "bob", cursor=cursor)


def test_a_well_formed_forged_cursor_still_shows_only_visible_documents() -> None:
    db = _mixed_folder()
    forged = encode_cursor((EPOCH + timedelta(days=365), "zzz"))
    assert _ids(_list(db, "bob", cursor=forged)) == ["d3", "d1"]
    assert _ids(_list(db, "carol", cursor=forged)) == []


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
def test_a_limit_out_of_bounds_is_an_invalid_request(limit: int) -> None:
    with pytest.raises(InvalidRequest, match="limit"):
        _list(_mixed_folder(), "bob", limit=limit)


@pytest.mark.parametrize("limit", [1, MAX_PAGE_SIZE])
def test_the_limit_bounds_themselves_are_accepted(limit: int) -> None:
    assert len(_list(_mixed_folder(), "alice", limit=limit).documents) == min(limit, 3)


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_the_cached_page_is_the_same_as_the_database_page(user: str) -> None:
    db = _mixed_folder()
    cache = FakeListingCache()

    from_database = _list(db, user, cache=cache, limit=1)
    assert (cache.misses, cache.hits, db.listing_reads) == (1, 0, 1)

    from_cache = _list(db, user, cache=cache, limit=1)
    assert (cache.misses, cache.hits, db.listing_reads) == (1, 1, 1)

    assert from_cache == from_database


def test_a_listing_cached_for_one_user_applies_the_access_rule_for_the_next() -> None:
    db = _mixed_folder()
    cache = FakeListingCache()
    assert _ids(_list(db, "alice", cache=cache)) == ["d3", "d2", "d1"]

    assert _ids(_list(db, "bob", cache=cache)) == ["d3", "d1"]
    assert _list(db, "carol", cache=cache).documents == ()
    assert (cache.hits, db.listing_reads) == (2, 1)


def test_a_cached_listing_of_an_older_version_is_not_served_after_a_share() -> None:
    db = _mixed_folder()
    cache = FakeListingCache()
    assert _list(db, "carol", cache=cache).documents == ()

    share_document(
        ShareDocument(doc_id="d2", shared_by="alice", shared_with="carol", role=Role.VIEWER), db.uow()
    )

    assert _ids(_list(db, "carol", cache=cache)) == ["d2"]
    assert (cache.misses, cache.hits, db.listing_reads) == (2, 0, 2)


def test_a_revoked_user_stops_seeing_the_document_although_it_was_cached() -> None:
    db = _mixed_folder()
    cache = FakeListingCache()
    assert _ids(_list(db, "bob", cache=cache)) == ["d3", "d1"]

    revoke_access(RevokeAccess(doc_id="d1", revoked_by="alice", user_id="bob"), db.uow())

    assert _ids(_list(db, "bob", cache=cache)) == ["d3"]
    assert cache.hits == 0


def test_an_empty_folder_listing_is_cached_and_hit() -> None:
    db = FakeDatabase().with_folder().with_member("alice")
    cache = FakeListingCache()
    assert _list(db, "alice", cache=cache) == DocumentPage((), None)
    assert _list(db, "alice", cache=cache) == DocumentPage((), None)
    assert (cache.misses, cache.hits, db.listing_reads) == (1, 1, 1)
