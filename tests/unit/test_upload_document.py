from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from domain.commands import ShareDocument, UploadDocument
from domain.errors import Conflict, CrossOrganization, FolderNotFound, NotAMember, PermissionDenied
from domain.events import DocumentShared, DocumentUploaded
from domain.roles import Role
from domain.use_cases.share_document import share_document
from domain.use_cases.upload_document import upload_document
from tests.unit.fakes import EPOCH, FOLDER, ORG, OTHER_ORG, FakeClock, FakeDatabase


def _upload(
    doc_id: str = "d1",
    *,
    by: str = "alice",
    folder: str = FOLDER,
    org: str = ORG,
    name: str = "report.pdf",
    blob_uri: str = "s3://blobs/d1/1",
) -> UploadDocument:
    return UploadDocument(
        doc_id=doc_id,
        org_id=org,
        folder_id=folder,
        owner_id=by,
        name=name,
        mime_type="application/pdf",
        blob_uri=blob_uri,
        tags=("q1",),
    )


def test_the_first_upload_creates_version_one_owned_by_the_uploader() -> None:
    db = FakeDatabase().with_member("alice").with_folder()
    clock = FakeClock()
    uow = db.uow()
    upload_document(_upload(), uow, now=clock)
    document = db.documents["d1"]
    assert (document.org_id, document.folder_id, document.owner_id) == (ORG, FOLDER, "alice")
    assert (document.name, document.mime_type, document.blob_uri, document.tags) == (
        "report.pdf",
        "application/pdf",
        "s3://blobs/d1/1",
        ("q1",),
    )
    assert document.version == 1
    assert document.created_at == document.updated_at == clock.current
    assert document.created_at.tzinfo is UTC
    assert db.roles_on("d1") == {"alice": Role.OWNER}
    assert uow.committed


def test_the_first_upload_emits_document_uploaded() -> None:
    db = FakeDatabase().with_member("alice").with_folder()
    upload_document(_upload(), db.uow(), now=FakeClock())
    [event] = db.events_of(DocumentUploaded)
    assert (event.org_id, event.document_id, event.owner_id, event.uploaded_by) == (
        ORG,
        "d1",
        "alice",
        "alice",
    )
    assert (event.folder_id, event.version, event.name, event.mime_type) == (
        FOLDER,
        1,
        "report.pdf",
        "application/pdf",
    )


def test_an_editor_uploads_the_next_version_keeping_created_at_and_moving_updated_at() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", editors=["bob"], created_at=EPOCH)
    clock = FakeClock(start=EPOCH + timedelta(days=1))
    upload_document(_upload(by="bob", name="report-v2.pdf", blob_uri="s3://blobs/d1/2"), db.uow(), now=clock)
    document = db.documents["d1"]
    assert document.version == 2
    assert document.created_at == EPOCH
    assert document.updated_at == clock.current > EPOCH
    assert (document.name, document.blob_uri) == ("report-v2.pdf", "s3://blobs/d1/2")
    assert document.owner_id == "alice"
    assert db.roles_on("d1") == {"alice": Role.OWNER, "bob": Role.EDITOR}
    [event] = db.events_of(DocumentUploaded)
    assert (event.version, event.uploaded_by, event.owner_id) == (2, "bob", "alice")


def test_each_upload_increments_the_version() -> None:
    db = FakeDatabase().with_document("d1", owner="alice")
    clock = FakeClock(start=EPOCH + timedelta(days=1))
    for _ in range(3):
        upload_document(_upload(), db.uow(), now=clock)
    assert db.documents["d1"].version == 4
    assert [event.version for event in db.events_of(DocumentUploaded)] == [2, 3, 4]


@pytest.mark.parametrize("role", ["viewer", "none"])
def test_a_user_without_edit_cannot_upload_a_new_version(role: str) -> None:
    viewers = ["bob"] if role == "viewer" else []
    db = FakeDatabase().with_document("d1", owner="alice", viewers=viewers, members=["bob"])
    before = db.state()
    with pytest.raises(PermissionDenied):
        upload_document(_upload(by="bob", blob_uri="s3://blobs/d1/evil"), db.uow(), now=FakeClock())
    assert db.state() == before
    assert db.events == []


def test_a_non_member_cannot_upload() -> None:
    db = FakeDatabase().with_folder().with_member("mallory", org=OTHER_ORG)
    with pytest.raises(NotAMember):
        upload_document(_upload(by="mallory"), db.uow(), now=FakeClock())
    assert db.documents == {}
    assert db.policies == {}
    assert db.events == []


def test_uploading_into_a_folder_of_another_organization_is_refused() -> None:
    db = FakeDatabase().with_member("alice").with_folder("theirs", org=OTHER_ORG)
    with pytest.raises(CrossOrganization):
        upload_document(_upload(folder="theirs"), db.uow(), now=FakeClock())
    assert db.documents == {}


def test_uploading_into_a_missing_folder_is_folder_not_found() -> None:
    db = FakeDatabase().with_member("alice")
    with pytest.raises(FolderNotFound):
        upload_document(_upload(folder="nowhere"), db.uow(), now=FakeClock())
    assert db.documents == {}


def test_a_new_version_cannot_claim_a_document_of_another_organization() -> None:
    db = FakeDatabase().with_document("d1", owner="alice").with_member("alice", org=OTHER_ORG)
    db.with_folder("theirs", org=OTHER_ORG)
    before = db.state()
    with pytest.raises(CrossOrganization):
        upload_document(_upload(org=OTHER_ORG, folder="theirs"), db.uow(), now=FakeClock())
    assert db.state() == before


def test_a_new_version_must_go_into_the_documents_folder() -> None:
    db = FakeDatabase().with_document("d1", owner="alice").with_folder("elsewhere")
    before = db.state()
    with pytest.raises(Conflict):
        upload_document(_upload(folder="elsewhere"), db.uow(), now=FakeClock())
    assert db.state() == before


def test_a_new_version_aimed_at_a_missing_folder_is_refused_at_once_not_waited_for() -> None:
    db = FakeDatabase().with_document("d1", owner="alice")
    before = db.state()
    with pytest.raises(Conflict, match="must be uploaded into its folder"):  # not FolderNotFound
        upload_document(_upload(folder="never-created"), db.uow(), now=FakeClock())
    assert db.state() == before


def test_the_uploader_can_share_right_after_uploading() -> None:
    db = FakeDatabase().with_member("alice", "bob").with_folder()
    upload_document(_upload(), db.uow(), now=FakeClock())
    share_document(
        ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.VIEWER), db.uow()
    )
    assert db.role_of("d1", "bob") is Role.VIEWER
    assert len(db.events_of(DocumentShared)) == 1


def test_an_upload_bumps_its_folders_listing_version() -> None:
    db = FakeDatabase().with_member("alice").with_folder()
    upload_document(_upload(), db.uow(), now=FakeClock())
    assert db.listing_version(FOLDER) == 1
