from __future__ import annotations

import pytest

from domain.commands import ShareDocument
from domain.errors import DocumentNotFound, LastOwner, NotAMember, PermissionDenied
from domain.events import DocumentShared
from domain.roles import Role
from domain.use_cases.share_document import share_document
from tests.unit.fakes import FOLDER, ORG, OTHER_ORG, FakeDatabase


def _share(db: FakeDatabase, *, by: str, to: str, role: Role, doc_id: str = "d1") -> None:
    share_document(ShareDocument(doc_id=doc_id, shared_by=by, shared_with=to, role=role), db.uow())


@pytest.mark.parametrize("role", list(Role))
def test_an_owner_shares_any_role_with_a_member(role: Role) -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    _share(db, by="alice", to="bob", role=role)
    assert db.role_of("d1", "bob") is role
    [event] = db.events_of(DocumentShared)
    assert (event.org_id, event.document_id) == (ORG, "d1")
    assert (event.shared_by, event.shared_with, event.role) == ("alice", "bob", role.value)
    assert event.previous_role is None, "a new grant"


@pytest.mark.parametrize("sharer_role", ["viewer", "editor", "none"])
@pytest.mark.parametrize("granted", list(Role))
def test_only_a_holder_of_share_can_share(sharer_role: str, granted: Role) -> None:
    db = FakeDatabase().with_document(
        "d1",
        owner="alice",
        viewers=["bob"] if sharer_role == "viewer" else [],
        editors=["bob"] if sharer_role == "editor" else [],
        members=["bob", "carol"],
    )
    before = db.state()
    with pytest.raises(PermissionDenied, match="may not share"):
        _share(db, by="bob", to="carol", role=granted)
    assert db.state() == before
    assert db.events == []


def test_an_editor_cannot_even_give_itself_a_higher_role() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", editors=["bob"])
    with pytest.raises(PermissionDenied):
        _share(db, by="bob", to="bob", role=Role.OWNER)
    assert db.role_of("d1", "bob") is Role.EDITOR


def test_the_sharee_must_be_a_member_of_the_documents_organization() -> None:
    db = FakeDatabase().with_document("d1", owner="alice").with_member("mallory", org=OTHER_ORG)
    with pytest.raises(NotAMember):
        _share(db, by="alice", to="mallory", role=Role.VIEWER)
    assert db.role_of("d1", "mallory") is None
    assert db.events == []


def test_a_non_member_sharee_is_refused_as_such_before_any_question_of_roles() -> None:
    """Contract §7: bob, a viewer, may not share at all; sharing with a non-member is still told as that."""
    db = (
        FakeDatabase()
        .with_document("d1", owner="alice", viewers=["bob"])
        .with_member("mallory", org=OTHER_ORG)
    )
    with pytest.raises(NotAMember):
        _share(db, by="bob", to="mallory", role=Role.VIEWER)


def test_sharing_the_role_already_held_changes_nothing_and_emits_no_event() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"])
    before = db.state()
    uow = db.uow()
    share_document(ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.VIEWER), uow)
    assert uow.committed
    assert db.state() == before
    assert db.events == []


def test_an_owner_changes_a_members_role() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"])
    _share(db, by="alice", to="bob", role=Role.EDITOR)
    assert db.role_of("d1", "bob") is Role.EDITOR
    [event] = db.events_of(DocumentShared)
    assert (event.role, event.previous_role) == ("editor", "viewer")


@pytest.mark.parametrize("lower", [Role.EDITOR, Role.VIEWER])
def test_the_last_owner_cannot_be_downgraded(lower: Role) -> None:
    db = FakeDatabase().with_document("d1", owner="alice", editors=["bob"])
    with pytest.raises(LastOwner):
        _share(db, by="alice", to="alice", role=lower)
    assert db.owners_of("d1") == {"alice"}
    assert db.events == []


def test_a_second_owner_can_be_downgraded() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", co_owners=["bob"])
    _share(db, by="alice", to="bob", role=Role.VIEWER)
    assert db.roles_on("d1") == {"alice": Role.OWNER, "bob": Role.VIEWER}
    [event] = db.events_of(DocumentShared)
    assert (event.role, event.previous_role) == ("viewer", "owner"), "a demotion, told from a grant"


def test_an_owner_may_step_down_while_another_owner_remains() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", co_owners=["bob"])
    _share(db, by="alice", to="alice", role=Role.EDITOR)
    assert db.owners_of("d1") == {"bob"}


def test_sharing_a_missing_document_is_document_not_found() -> None:
    db = FakeDatabase().with_member("alice", "bob")
    with pytest.raises(DocumentNotFound):
        _share(db, by="alice", to="bob", role=Role.VIEWER, doc_id="ghost")


def test_a_share_bumps_the_documents_folder_listing_version() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    _share(db, by="alice", to="bob", role=Role.VIEWER)
    assert db.listing_version(FOLDER) == 1


def test_a_sharer_from_another_organization_is_refused_as_not_a_member() -> None:
    """Not a permission question: whoever is outside the organization is told so first."""
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    db = db.with_member("mallory", org=OTHER_ORG)
    before = db.state()
    with pytest.raises(NotAMember, match="'mallory' is not a member of organization"):
        _share(db, by="mallory", to="bob", role=Role.VIEWER)
    assert db.state() == before
