"""The domain's use cases, end to end against Postgres through SqlUnitOfWork."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Engine, select

from adapters.postgres.tables import folders, outbox
from adapters.postgres.unit_of_work import unit_of_work_factory
from domain.commands import (
    CreateFolder,
    ListFolderDocuments,
    RevokeAccess,
    ShareDocument,
)
from domain.errors import FolderNotFound
from domain.listing import FolderListing
from domain.ports import ListingCache, UnitOfWorkFactory
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from domain.use_cases.list_folder_documents import list_folder_documents
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import inbox_has, org_with_folder, run, upload_command

pytestmark = pytest.mark.integration


@pytest.fixture
def new_uow(engine: Engine) -> UnitOfWorkFactory:
    return unit_of_work_factory(engine)


class VersionedListingCache(ListingCache):
    """Keeps one listing per folder and serves it only for the version asked, as the real cache does."""

    def __init__(self) -> None:
        self.listings: dict[str, FolderListing] = {}

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        listing = self.listings.get(folder_id)
        return listing if listing is not None and listing.version == version else None

    def put(self, listing: FolderListing) -> None:
        current = self.listings.get(listing.folder_id)
        if current is None or current.version <= listing.version:
            self.listings[listing.folder_id] = listing

    def invalidate(self, folder_ids: set[str]) -> None:
        for folder_id in folder_ids:
            self.listings.pop(folder_id, None)


def _visible_to(
    user_id: str, folder_id: str, new_uow: UnitOfWorkFactory, cache: VersionedListingCache
) -> list[str]:
    query = ListFolderDocuments(folder_id=folder_id, requested_by=user_id)
    return [document.id for document in list_folder_documents(query, new_uow(None), cache).documents]


def _event_types(engine: Engine, org_id: str) -> list[str]:
    query = select(outbox.c.type).where(outbox.c.org_id == org_id).order_by(outbox.c.seq)
    with engine.connect() as connection:
        return list(connection.scalars(query))


def test_the_uploader_shares_right_after_the_upload(
    engine: Engine, new_uow: UnitOfWorkFactory, new_id: IdMaker
) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    doc_id = new_id("doc")
    assert run(new_uow, new_id, upload_command(org_id, folder_id, doc_id)) is Outcome.APPLIED
    share = ShareDocument(doc_id=doc_id, shared_by="alice", shared_with="bob", role=Role.VIEWER)
    assert run(new_uow, new_id, share) is Outcome.APPLIED
    with new_uow(None) as uow:
        assert uow.policies.role_of(doc_id, "bob") is Role.VIEWER
        assert uow.policies.owners_of(doc_id) == {"alice"}
    assert _event_types(engine, org_id) == [
        "MemberAdded",
        "MemberAdded",
        "FolderCreated",
        "DocumentUploaded",
        "DocumentShared",
    ]


def test_a_listing_shows_an_upload_as_soon_as_it_commits(new_uow: UnitOfWorkFactory, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    cache = VersionedListingCache()  # never invalidated: only the listing version keeps it fresh
    assert _visible_to("alice", folder_id, new_uow, cache) == []
    doc_id = new_id("doc")
    run(new_uow, new_id, upload_command(org_id, folder_id, doc_id))
    assert _visible_to("alice", folder_id, new_uow, cache) == [doc_id]
    assert _visible_to("bob", folder_id, new_uow, cache) == []
    run(new_uow, new_id, ShareDocument(doc_id=doc_id, shared_by="alice", shared_with="bob", role=Role.EDITOR))
    assert _visible_to("bob", folder_id, new_uow, cache) == [doc_id]
    run(new_uow, new_id, RevokeAccess(doc_id=doc_id, revoked_by="alice", user_id="bob"))
    assert _visible_to("bob", folder_id, new_uow, cache) == []


def test_the_cache_is_invalidated_after_each_change(engine: Engine, new_id: IdMaker) -> None:
    cache = VersionedListingCache()
    invalidated: list[set[str]] = []

    def on_committed(folder_ids: set[str], document_ids: set[str]) -> None:
        invalidated.append(folder_ids)
        cache.invalidate(folder_ids)

    new_uow = unit_of_work_factory(engine, on_committed)
    org_id, folder_id = org_with_folder(new_uow, new_id)
    _visible_to("alice", folder_id, new_uow, cache)
    run(new_uow, new_id, upload_command(org_id, folder_id, new_id("doc")))
    assert invalidated == [{folder_id}]
    assert folder_id not in cache.listings


def test_a_later_upload_adds_a_version(new_uow: UnitOfWorkFactory, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    doc_id = new_id("doc")
    run(new_uow, new_id, upload_command(org_id, folder_id, doc_id))
    assert (
        run(new_uow, new_id, upload_command(org_id, folder_id, doc_id, name="q1-final.pdf"))
        is Outcome.APPLIED
    )
    with new_uow(None) as uow:
        document = uow.documents.get(doc_id)
    assert document is not None
    assert (document.version, document.name, document.tags) == (2, "q1-final.pdf", ("finance",))
    assert document.updated_at >= document.created_at


def test_a_redelivered_message_is_a_duplicate(
    engine: Engine, new_uow: UnitOfWorkFactory, new_id: IdMaker
) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    message_id, command = new_id("msg"), upload_command(org_id, folder_id, new_id("doc"))
    assert execute(command, message_id=message_id, actor="alice", new_uow=new_uow) is Outcome.APPLIED
    assert execute(command, message_id=message_id, actor="alice", new_uow=new_uow) is Outcome.DUPLICATE
    assert _event_types(engine, org_id).count("DocumentUploaded") == 1


def test_a_refusal_is_recorded_once_with_its_message(
    engine: Engine, new_uow: UnitOfWorkFactory, new_id: IdMaker
) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    doc_id, message_id = new_id("doc"), new_id("msg")
    run(new_uow, new_id, upload_command(org_id, folder_id, doc_id))
    share = ShareDocument(doc_id=doc_id, shared_by="bob", shared_with="bob", role=Role.OWNER)
    assert execute(share, message_id=message_id, actor="bob", new_uow=new_uow) is Outcome.REFUSED
    assert execute(share, message_id=message_id, actor="bob", new_uow=new_uow) is Outcome.DUPLICATE
    with new_uow(None) as uow:
        assert uow.policies.role_of(doc_id, "bob") is None
    assert _event_types(engine, org_id)[-1] == "ShareDenied"
    assert _event_types(engine, org_id).count("ShareDenied") == 1


def test_a_command_that_must_wait_leaves_its_message_unapplied(
    engine: Engine, new_uow: UnitOfWorkFactory, new_id: IdMaker
) -> None:
    org_id, _ = org_with_folder(new_uow, new_id)
    message_id = new_id("msg")
    with pytest.raises(FolderNotFound):
        execute(
            upload_command(org_id, new_id("folder"), new_id("doc")),
            message_id=message_id,
            actor="alice",
            new_uow=new_uow,
        )
    assert not inbox_has(engine, message_id)


def test_a_deep_folder_is_created_and_its_path_column_holds_its_own_id_alone(
    new_uow: UnitOfWorkFactory, new_id: IdMaker, engine: Engine
) -> None:
    """Ids of the longest the contract allows, 30 deep: with the ids from the root, the deepest path
    would be about 3.9 kB (more than ``ix_folders_path`` could index, until migration 0007), and a
    chain's paths would add up with the square of its depth."""
    org_id, parent_id = org_with_folder(new_uow, new_id)
    for depth in range(30):
        folder_id = secrets.token_hex(64)
        command = CreateFolder(
            folder_id=folder_id, org_id=org_id, name="Deeper", parent_id=parent_id, created_by="alice"
        )
        assert run(new_uow, new_id, command) is Outcome.APPLIED, f"level {depth + 2}"
        parent_id = folder_id
    with engine.connect() as connection:
        rows = connection.execute(select(folders.c.id, folders.c.path).where(folders.c.org_id == org_id))
        paths = dict(rows.all())
    assert len(paths) == 31
    assert all(path == f"/{folder_id}/" for folder_id, path in paths.items())
