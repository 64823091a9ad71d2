from __future__ import annotations

import pytest

from domain.commands import AddMember, CreateFolder, RevokeAccess, ShareDocument, UploadDocument
from domain.errors import DocumentNotFound, FolderNotFound
from domain.events import CommandRejected, DocumentShared, ShareDenied
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from tests.unit.fakes import FOLDER, ORG, OTHER_ORG, FakeDatabase


def _share(by: str = "alice", to: str = "bob", role: Role = Role.VIEWER, doc_id: str = "d1") -> ShareDocument:
    return ShareDocument(doc_id=doc_id, shared_by=by, shared_with=to, role=role)


def _upload(by: str, folder: str = FOLDER) -> UploadDocument:
    return UploadDocument(
        doc_id="d9",
        org_id=ORG,
        folder_id=folder,
        owner_id=by,
        name="report.pdf",
        mime_type="application/pdf",
        blob_uri="s3://blobs/d9/1",
    )


def test_an_applied_command_commits_its_change_with_the_inbox_row() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    outcome = execute(_share(), message_id="m1", actor="alice", new_uow=db.uow_factory())
    assert outcome is Outcome.APPLIED
    assert db.role_of("d1", "bob") is Role.VIEWER
    assert "m1" in db.applied_message_ids
    assert len(db.events_of(DocumentShared)) == 1


def test_the_same_message_again_is_a_duplicate_that_changes_nothing() -> None:
    db = FakeDatabase()
    new_uow = db.uow_factory()
    command = AddMember(org_id=ORG, user_id="alice")
    assert execute(command, message_id="m1", actor="admin", new_uow=new_uow) is Outcome.APPLIED
    before, events = db.state(), list(db.events)

    assert execute(command, message_id="m1", actor="admin", new_uow=new_uow) is Outcome.DUPLICATE
    assert db.state() == before
    assert db.events == events


def test_a_different_command_under_an_applied_message_id_is_a_duplicate() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"]).with_applied("m1")
    assert execute(_share(), message_id="m1", actor="alice", new_uow=db.uow_factory()) is Outcome.DUPLICATE
    assert db.role_of("d1", "bob") is None
    assert db.events == []


def test_a_refused_share_is_recorded_as_share_denied_with_the_inbox_row() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"], members=["carol"])
    before = db.state()
    new_uow = db.uow_factory()

    outcome = execute(_share(by="bob", to="carol"), message_id="m1", actor="bob", new_uow=new_uow)

    assert outcome is Outcome.REFUSED
    assert db.state() == before
    [event] = db.events
    assert isinstance(event, ShareDenied)
    assert (event.org_id, event.document_id) == (ORG, "d1")
    assert (event.shared_by, event.shared_with, event.role) == ("bob", "carol", "viewer")
    assert event.reason == "permission_denied"
    assert "bob" in event.detail
    assert event.message_id == "m1"  # ties the refusal to its command, as CommandRejected does
    assert "m1" in db.applied_message_ids
    assert [uow.committed for uow in new_uow.opened] == [False, True]


@pytest.mark.parametrize(
    ("sharee", "reason"),
    [("mallory", "not_a_member"), ("alice", "last_owner")],
)
def test_share_denied_carries_the_reason_code(sharee: str, reason: str) -> None:
    db = FakeDatabase().with_document("d1", owner="alice").with_member("mallory", org=OTHER_ORG)
    command = _share(to=sharee, role=Role.VIEWER)
    assert execute(command, message_id="m1", actor="alice", new_uow=db.uow_factory()) is Outcome.REFUSED
    [event] = db.events_of(ShareDenied)
    assert event.reason == reason


def test_a_refused_share_redelivered_is_a_duplicate_and_not_denied_twice() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", viewers=["bob"], members=["carol"])
    new_uow = db.uow_factory()
    command = _share(by="bob", to="carol")
    assert execute(command, message_id="m1", actor="bob", new_uow=new_uow) is Outcome.REFUSED
    assert execute(command, message_id="m1", actor="bob", new_uow=new_uow) is Outcome.DUPLICATE
    assert len(db.events_of(ShareDenied)) == 1


def test_another_refused_command_is_recorded_as_command_rejected_with_its_reason_code() -> None:
    db = FakeDatabase().with_folder().with_member("mallory", org=OTHER_ORG)
    before = db.state()

    outcome = execute(_upload(by="mallory"), message_id="m1", actor="mallory", new_uow=db.uow_factory())

    assert outcome is Outcome.REFUSED
    assert db.state() == before
    [event] = db.events
    assert isinstance(event, CommandRejected)
    assert (event.message_id, event.actor, event.reason) == ("m1", "mallory", "not_a_member")
    assert (event.org_id, event.document_id, event.folder_id, event.user_id) == (ORG, "d9", FOLDER, None)
    assert "mallory" in event.detail
    assert "m1" in db.applied_message_ids


def test_a_refused_revoke_is_command_rejected_with_the_documents_organization() -> None:
    db = FakeDatabase().with_document("d1", owner="alice")
    command = RevokeAccess(doc_id="d1", revoked_by="alice", user_id="alice")
    assert execute(command, message_id="m1", actor="alice", new_uow=db.uow_factory()) is Outcome.REFUSED
    [event] = db.events
    assert isinstance(event, CommandRejected)
    assert (event.reason, event.org_id, event.document_id, event.actor) == ("last_owner", ORG, "d1", "alice")
    assert (event.user_id, event.folder_id) == ("alice", None)  # the user it would have taken the role from
    assert db.owners_of("d1") == {"alice"}


def test_a_folder_conflict_is_rejected_with_reason_conflict() -> None:
    db = FakeDatabase().with_member("alice").with_folder("root", name="Projects")
    command = CreateFolder(folder_id="other", org_id=ORG, name="Projects", created_by="alice")
    assert execute(command, message_id="m1", actor="alice", new_uow=db.uow_factory()) is Outcome.REFUSED
    [event] = db.events_of(CommandRejected)
    assert (event.reason, event.org_id, event.document_id) == ("conflict", ORG, None)
    assert (event.folder_id, event.user_id) == ("other", None)  # the folder it would have created
    assert "other" not in db.folders


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (_share(doc_id="ghost"), DocumentNotFound),
        (_upload(by="alice", folder="nowhere"), FolderNotFound),
    ],
)
def test_not_found_propagates_for_a_retry_and_writes_nothing(
    command: ShareDocument | UploadDocument, error: type[Exception]
) -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    before = db.state()
    with pytest.raises(error):
        execute(command, message_id="m1", actor="alice", new_uow=db.uow_factory())
    assert db.state() == before
    assert db.events == []
    assert "m1" not in db.applied_message_ids


def test_a_command_retried_after_not_found_applies_once_its_target_exists() -> None:
    db = FakeDatabase().with_member("alice", "bob")
    new_uow = db.uow_factory()
    with pytest.raises(DocumentNotFound):
        execute(_share(), message_id="m1", actor="alice", new_uow=new_uow)
    db.with_document("d1", owner="alice")
    assert execute(_share(), message_id="m1", actor="alice", new_uow=new_uow) is Outcome.APPLIED
    assert db.role_of("d1", "bob") is Role.VIEWER
