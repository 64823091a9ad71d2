from __future__ import annotations

import pytest

from domain.commands import RevokeAccess, ShareDocument
from domain.errors import DocumentNotFound, LastOwner, NotAMember, PermissionDenied
from domain.events import AccessRevoked, DocumentShared
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from domain.use_cases.revoke_access import revoke_access
from domain.use_cases.share_document import share_document
from tests.unit.fakes import FOLDER, ORG, OTHER_ORG, FakeDatabase


def _revoke(db: FakeDatabase, *, by: str, user: str, doc_id: str = "d1") -> None:
    revoke_access(RevokeAccess(doc_id=doc_id, revoked_by=by, user_id=user), db.uow())


def test_an_owner_revokes_a_role_and_emits_access_revoked() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"])
    _revoke(db, by="alice", user="bob")
    assert db.role_of("d1", "bob") is None
    [event] = db.events_of(AccessRevoked)
    assert (event.org_id, event.document_id, event.revoked_by, event.user_id) == (ORG, "d1", "alice", "bob")
    assert event.role == "viewer", "the role taken away"
    assert db.listing_version(FOLDER) == 1


@pytest.mark.parametrize("revoker_role", ["viewer", "editor", "none"])
def test_revoking_needs_share(revoker_role: str) -> None:
    db = FakeDatabase().with_document(
        "d1",
        owner="alice",
        viewers=["carol"] + (["bob"] if revoker_role == "viewer" else []),
        editors=["bob"] if revoker_role == "editor" else [],
        members=["bob"],
    )
    before = db.state()
    with pytest.raises(PermissionDenied):
        _revoke(db, by="bob", user="carol")
    assert db.state() == before
    assert db.events == []


def test_the_last_owner_cannot_be_removed() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"])
    with pytest.raises(LastOwner):
        _revoke(db, by="alice", user="alice")
    assert db.owners_of("d1") == {"alice"}
    assert db.events == []


def test_one_of_two_owners_can_be_removed() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", co_owners=["bob"])
    _revoke(db, by="bob", user="alice")
    assert db.roles_on("d1") == {"bob": Role.OWNER}
    assert [event.role for event in db.events_of(AccessRevoked)] == ["owner"]


def test_revoking_a_user_without_a_role_is_a_no_op_without_event() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["carol"])
    before = db.state()
    uow = db.uow()
    revoke_access(RevokeAccess(doc_id="d1", revoked_by="alice", user_id="carol"), uow)
    assert uow.committed
    assert db.state() == before
    assert db.events == []


def test_a_revoked_owner_can_no_longer_share() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", co_owners=["bob"], members=["carol"])
    _revoke(db, by="alice", user="bob")
    with pytest.raises(PermissionDenied):
        share_document(
            ShareDocument(doc_id="d1", shared_by="bob", shared_with="carol", role=Role.VIEWER), db.uow()
        )
    with pytest.raises(PermissionDenied):
        share_document(
            ShareDocument(doc_id="d1", shared_by="bob", shared_with="bob", role=Role.OWNER), db.uow()
        )
    assert db.role_of("d1", "carol") is None
    assert db.role_of("d1", "bob") is None


def test_replaying_a_share_message_after_a_revoke_does_not_restore_access() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    new_uow = db.uow_factory()
    share = ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.EDITOR)
    assert execute(share, message_id="m-share", actor="alice", new_uow=new_uow) is Outcome.APPLIED
    revoke = RevokeAccess(doc_id="d1", revoked_by="alice", user_id="bob")
    assert execute(revoke, message_id="m-revoke", actor="alice", new_uow=new_uow) is Outcome.APPLIED

    replayed = execute(share, message_id="m-share", actor="alice", new_uow=new_uow)

    assert replayed is Outcome.DUPLICATE
    assert db.role_of("d1", "bob") is None
    assert len(db.events_of(DocumentShared)) == 1


def test_revoking_on_a_missing_document_is_document_not_found() -> None:
    db = FakeDatabase().with_member("alice", "bob")
    with pytest.raises(DocumentNotFound):
        _revoke(db, by="alice", user="bob", doc_id="ghost")


def test_a_revoker_from_another_organization_is_refused_as_not_a_member() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"])
    db = db.with_member("mallory", org=OTHER_ORG)
    before = db.state()
    with pytest.raises(NotAMember, match="'mallory' is not a member of organization"):
        _revoke(db, by="mallory", user="bob")
    assert db.state() == before
