"""Each repository method writes and reads back equal domain objects, scoped as its port says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, make_url

from adapters.postgres.engine import create_engine
from adapters.postgres.errors import FolderCreatedConcurrently, MemberAddedConcurrently, StaleDocumentVersion
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.model import Document, DocumentContent, Folder
from domain.roles import Role
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import first_version, seed_folder, wait_until_run

pytestmark = pytest.mark.integration

PARIS_SUMMER = timezone(timedelta(hours=2))
MOMENT = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=PARIS_SUMMER)


def test_a_membership_another_unit_of_work_added_first_is_reported_as_such(
    engine: Engine, new_id: IdMaker
) -> None:
    org_id = new_id("org")
    with SqlUnitOfWork(engine, None) as second, SqlUnitOfWork(engine, None) as first:  # see wait_until_run
        for uow in (first, second):  # both read before either adds: neither sees the member
            assert not uow.members.contains(org_id, "alice")
        first.members.add(org_id, "alice")
        wait_until_run(first)
        second.members.add(org_id, "alice")  # waits, on the server, for the first to end
        first.commit()
        with pytest.raises(MemberAddedConcurrently, match="already exists"):
            second.commit()
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.members.contains(org_id, "alice")


@pytest.mark.parametrize("same", ["id", "name"])
def test_a_folder_another_unit_of_work_created_first_is_reported_as_such(
    engine: Engine, new_id: IdMaker, same: str
) -> None:
    """The same folder id, or a sibling of the same name: an expected race, which a retry decides."""
    root = seed_folder(engine, new_id)
    folder_id = new_id("folder")
    with SqlUnitOfWork(engine, None) as second, SqlUnitOfWork(engine, None) as first:  # see wait_until_run
        for index, uow in enumerate((first, second)):
            created = Folder.create(
                folder_id=folder_id if same == "id" else new_id("folder"),
                org_id=root.org_id,
                name="2024" if same == "name" else f"2024-{index}",
                parent=root,
                created_by="alice",
                now=MOMENT,
            )
            uow.folders.add(created)
            if uow is first:
                wait_until_run(first)
        first.commit()
        with pytest.raises(FolderCreatedConcurrently, match="already exists"):
            second.commit()


def _saved(engine: Engine, document: Document) -> Document:
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(document)
        uow.commit()
    return document


def test_the_first_member_creates_the_organization(engine: Engine, new_id: IdMaker) -> None:
    org_id = new_id("org")
    with SqlUnitOfWork(engine, None) as uow:
        assert not uow.members.contains(org_id, "alice")
        uow.members.add(org_id, "alice")
        uow.members.add(org_id, "bob")
        uow.commit()
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.members.contains(org_id, "alice")
        assert uow.members.contains(org_id, "bob")
        assert not uow.members.contains(org_id, "carol")
        assert not uow.members.contains(new_id("org"), "alice")


def test_folders_round_trip_with_utc_timestamps(engine: Engine, new_id: IdMaker) -> None:
    root = seed_folder(engine, new_id, now=MOMENT)
    child = Folder.create(
        folder_id=new_id("folder"),
        org_id=root.org_id,
        name="2024",
        parent=root,
        created_by="alice",
        now=MOMENT,
    )
    with SqlUnitOfWork(engine, None) as uow:
        uow.folders.add(child)
        uow.commit()
    with SqlUnitOfWork(engine, None) as uow:
        loaded_root, loaded_child = uow.folders.get(root.id), uow.folders.get(child.id)
        assert uow.folders.get(new_id("folder")) is None
    assert loaded_root == root
    assert loaded_child == child
    assert loaded_child.created_at.tzinfo == UTC
    assert loaded_child.created_at == MOMENT


def test_a_sibling_is_found_by_organization_parent_and_name(engine: Engine, new_id: IdMaker) -> None:
    root = seed_folder(engine, new_id, now=MOMENT)
    child = Folder.create(
        folder_id=new_id("folder"),
        org_id=root.org_id,
        name="2024",
        parent=root,
        created_by="alice",
        now=MOMENT,
    )
    other_org_root = seed_folder(engine, new_id, now=MOMENT)
    with SqlUnitOfWork(engine, None) as uow:
        uow.folders.add(child)
        assert uow.folders.sibling_named(root.org_id, None, "Reports") == root
        assert uow.folders.sibling_named(root.org_id, root.id, "2024") == child
        assert uow.folders.sibling_named(other_org_root.org_id, None, "Reports") == other_org_root
        assert uow.folders.sibling_named(root.org_id, None, "2024") is None
        assert uow.folders.sibling_named(root.org_id, root.id, "Reports") is None
        assert uow.folders.sibling_named(new_id("org"), None, "Reports") is None
        assert uow.folders.sibling_named(root.org_id, None, "reports") is None


def test_a_sibling_is_found_by_its_name_in_either_unicode_form(engine: Engine, new_id: IdMaker) -> None:
    composed, decomposed = "R\u00e9sum\u00e9s", "Re\u0301sume\u0301s"
    root = seed_folder(engine, new_id, now=MOMENT, name=decomposed)
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.folders.sibling_named(root.org_id, None, composed) == root
        assert uow.folders.sibling_named(root.org_id, None, decomposed) == root


def test_documents_round_trip_with_tuples_and_utc_timestamps(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id, now=MOMENT)
    document = _saved(engine, first_version(new_id, folder, now=MOMENT))
    untagged = _saved(engine, first_version(new_id, folder, tags=(), now=MOMENT))
    with SqlUnitOfWork(engine, None) as uow:
        loaded, loaded_untagged = uow.documents.get(document.id), uow.documents.get(untagged.id)
        assert uow.documents.get(new_id("doc")) is None
    assert loaded == document
    assert loaded_untagged == untagged
    assert isinstance(loaded.tags, tuple)
    assert loaded.created_at.tzinfo == UTC
    assert loaded.updated_at.tzinfo == UTC


def test_saving_a_later_version_replaces_the_stored_one(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id, now=MOMENT)
    first = _saved(engine, first_version(new_id, folder, now=MOMENT))
    content = DocumentContent("report-v2.pdf", "application/pdf", "s3://bucket/report-v2", ("final",))
    second = _saved(engine, first.next_version(content=content, uploaded_by="bob", now=MOMENT + timedelta(1)))
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.documents.get(first.id) == second
    assert second.version == 2


def test_saving_a_version_already_stored_writes_nothing(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id, now=MOMENT)
    first = _saved(engine, first_version(new_id, folder, now=MOMENT))
    rival = DocumentContent("rival.pdf", "application/pdf", "s3://bucket/rival")
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(
            Document.first_version(
                doc_id=first.id,
                org_id=folder.org_id,
                folder_id=folder.id,
                owner_id="bob",
                content=rival,
                now=MOMENT,
            )
        )
        with pytest.raises(StaleDocumentVersion):
            uow.commit()  # a first version is sent without waiting: the commit reports the rival
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.documents.get(first.id) == first


def test_policies_are_put_replaced_and_removed(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id, now=MOMENT)
    document = _saved(engine, first_version(new_id, folder, now=MOMENT))
    with SqlUnitOfWork(engine, None) as uow:
        uow.policies.put(document, "alice", Role.OWNER)
        uow.policies.put(document, "bob", Role.VIEWER)
        uow.policies.put(document, "bob", Role.OWNER)
        uow.policies.put(document, "carol", Role.EDITOR)
        uow.policies.remove(document, "carol")
        uow.policies.remove(document, "nobody")
        uow.commit()
    with SqlUnitOfWork(engine, None) as uow:
        role = uow.policies.role_of(document.id, "bob")
        assert uow.policies.role_of(document.id, "carol") is None
        assert uow.policies.role_of(new_id("doc"), "alice") is None
        assert uow.policies.owners_of(document.id) == frozenset({"alice", "bob"})
        assert uow.policies.owners_of(new_id("doc")) == frozenset()
    assert role is Role.OWNER


def test_roles_come_back_as_roles(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id, now=MOMENT)
    document = _saved(engine, first_version(new_id, folder, now=MOMENT))
    with SqlUnitOfWork(engine, None) as uow:
        for user, role in [("v", Role.VIEWER), ("e", Role.EDITOR), ("o", Role.OWNER)]:
            uow.policies.put(document, user, role)
        assert [uow.policies.role_of(document.id, user) for user in "veo"] == list(Role)


def test_timestamps_come_back_in_utc_whatever_the_session_time_zone(
    database_url: str, engine: Engine, new_id: IdMaker
) -> None:
    folder = seed_folder(engine, new_id, now=MOMENT)
    document = _saved(engine, first_version(new_id, folder, now=MOMENT))
    url = make_url(database_url).update_query_dict({"options": "-c timezone=Asia/Tokyo"})
    tokyo = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with SqlUnitOfWork(tokyo, None) as uow:
            loaded_folder, loaded_document = uow.folders.get(folder.id), uow.documents.get(document.id)
    finally:
        tokyo.dispose()
    assert loaded_folder is not None
    assert loaded_document is not None
    assert loaded_folder.created_at.tzinfo == UTC
    assert (loaded_document.created_at.tzinfo, loaded_document.updated_at.tzinfo) == (UTC, UTC)
