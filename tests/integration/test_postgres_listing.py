"""A folder's listing: its documents newest first, each with the users holding a role on it, in one query."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.listing import ListedDocument
from domain.model import Document, Folder
from domain.roles import Role
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import document_in, record_statements

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
AT_MOST = 1_000


def _folder(new_id: IdMaker, org_id: str, name: str) -> Folder:
    return Folder.create(
        folder_id=new_id("folder"), org_id=org_id, name=name, parent=None, created_by="alice", now=T0
    )


def _store(engine: Engine, folders: list[Folder], grants: dict[Document, list[tuple[str, Role]]]) -> None:
    with SqlUnitOfWork(engine, None) as uow:
        uow.members.add(folders[0].org_id, "alice")
        for folder in folders:
            uow.folders.add(folder)
        for document, roles in grants.items():
            uow.documents.save(document)
            for user_id, role in roles:
                uow.policies.put(document, user_id, role)
        uow.commit()


def _listing_of(engine: Engine, folder_id: str) -> tuple[Folder, list[ListedDocument]]:
    with SqlUnitOfWork(engine, None) as uow:
        folder = uow.folders.get(folder_id)
        assert folder is not None
        listing = uow.documents.listing(folder, AT_MOST)
        assert listing is not None
        return folder, list(listing.entries)


def test_documents_come_newest_first_with_their_readers(engine: Engine, new_id: IdMaker) -> None:
    reports = _folder(new_id, new_id("org"), "Reports")
    oldest, middle, newest = (
        document_in(reports, new_id("doc"), T0 + timedelta(minutes=n)) for n in range(3)
    )
    same_moment = document_in(reports, f"{newest.id}-b", newest.created_at)
    _store(
        engine,
        [reports],
        {
            middle: [("alice", Role.OWNER), ("bob", Role.VIEWER), ("carol", Role.EDITOR)],
            newest: [("alice", Role.OWNER)],
            oldest: [],
            same_moment: [("bob", Role.OWNER)],
        },
    )
    folder, entries = _listing_of(engine, reports.id)
    assert entries == [
        ListedDocument(same_moment, frozenset({"bob"})),
        ListedDocument(newest, frozenset({"alice"})),
        ListedDocument(middle, frozenset({"alice", "bob", "carol"})),
        ListedDocument(oldest, frozenset()),
    ]
    assert folder.listing_version == 1


def test_a_listing_holds_only_its_folder_of_its_organization(engine: Engine, new_id: IdMaker) -> None:
    org_id = new_id("org")
    reports, archive = _folder(new_id, org_id, "Reports"), _folder(new_id, org_id, "Archive")
    in_reports, in_archive = document_in(reports, new_id("doc"), T0), document_in(archive, new_id("doc"), T0)
    _store(engine, [reports, archive], {in_reports: [("alice", Role.OWNER)], in_archive: []})
    _, entries = _listing_of(engine, reports.id)
    assert [entry.document for entry in entries] == [in_reports]
    forged = dataclasses.replace(reports, org_id=new_id("org"))
    with SqlUnitOfWork(engine, None) as uow:
        listing = uow.documents.listing(forged, AT_MOST)
    assert listing is not None
    assert listing.entries == ()


def test_a_listing_carries_the_version_of_the_folder_it_was_read_for(engine: Engine, new_id: IdMaker) -> None:
    reports = _folder(new_id, new_id("org"), "Reports")
    _store(engine, [reports], {})
    with SqlUnitOfWork(engine, None) as uow:
        listing = uow.documents.listing(dataclasses.replace(reports, listing_version=7), AT_MOST)
    assert listing is not None
    assert (listing.folder_id, listing.org_id, listing.version, listing.entries) == (
        reports.id,
        reports.org_id,
        7,
        (),
    )


def test_a_listing_counts_its_documents_then_reads_them_in_one_query(
    engine: Engine, new_id: IdMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = _folder(new_id, new_id("org"), "Reports")
    documents = {
        document_in(reports, new_id("doc"), T0 + timedelta(n)): [("alice", Role.OWNER)] for n in range(5)
    }
    _store(engine, [reports], documents)
    with SqlUnitOfWork(engine, None) as uow:
        statements = record_statements(monkeypatch)
        listing = uow.documents.listing(reports, 5)
    assert listing is not None
    assert len(listing.entries) == 5
    assert statements == [("one", "SELECT count"), ("all", "SELECT d.id, d.org_id,")]


def test_a_folder_of_more_documents_than_asked_is_not_listed(
    engine: Engine, new_id: IdMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = _folder(new_id, new_id("org"), "Reports")
    _store(engine, [reports], {document_in(reports, new_id("doc"), T0 + timedelta(n)): [] for n in range(6)})
    with SqlUnitOfWork(engine, None) as uow:
        statements = record_statements(monkeypatch)
        assert uow.documents.listing(reports, 5) is None
    assert statements == [("one", "SELECT count")]
