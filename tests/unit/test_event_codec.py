"""The wire format of events is a public contract: routing keys, common fields, type fields, no content."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.event_codec import routing_key, to_wire
from domain.commands import RevokeAccess, ShareDocument, UploadDocument
from domain.events import (
    AccessRevoked,
    CommandRejected,
    DocumentShared,
    DocumentUploaded,
    Event,
    ShareDenied,
)
from domain.roles import Role
from domain.use_cases.dispatch import execute
from domain.use_cases.revoke_access import revoke_access
from domain.use_cases.share_document import share_document
from domain.use_cases.upload_document import upload_document
from tests.unit.fakes import FOLDER, ORG, FakeClock, FakeDatabase

BLOB_URI = "s3://blobs/d1/confidential-blob"
TAGS = ("tag-salary-review", "tag-layoffs")

UPLOADED = DocumentUploaded(
    org_id=ORG,
    doc_id="d1",
    owner_id="alice",
    uploaded_by="alice",
    folder_id=FOLDER,
    version=3,
    name="report.pdf",
    mime_type="application/pdf",
)
SHARED = DocumentShared(
    org_id=ORG, doc_id="d1", shared_by="alice", shared_with="bob", role="editor", previous_role=None
)
REVOKED = AccessRevoked(org_id=ORG, doc_id="d1", revoked_by="alice", user_id="bob", role="viewer")
DENIED = ShareDenied(
    org_id=ORG,
    doc_id="d1",
    shared_by="bob",
    shared_with="carol",
    role="owner",
    reason="permission_denied",
    detail="user 'bob' may not share document 'd1'",
    message_id="m0",
)
REJECTED = CommandRejected(
    org_id=ORG,
    doc_id="d1",
    folder_id=FOLDER,
    message_id="m1",
    actor="ingest-service",
    reason="not_a_member",
    detail="user 'mallory' is not a member of organization 'acme'",
)
DOCUMENT_EVENTS: list[Event] = [UPLOADED, SHARED, REVOKED, DENIED, REJECTED]


@pytest.mark.parametrize(
    ("event", "key"),
    [
        (UPLOADED, "document.uploaded"),
        (SHARED, "document.shared.editor"),
        (
            DocumentShared(
                org_id=ORG, doc_id="d1", shared_by="a", shared_with="b", role="viewer", previous_role=None
            ),
            "document.shared.viewer",
        ),
        (REVOKED, "document.access_revoked"),
        (DENIED, "document.share_denied"),
        (REJECTED, "command.rejected.ingest-service"),
    ],
)
def test_routing_keys_follow_the_public_contract(event: Event, key: str) -> None:
    assert routing_key(event) == key


@pytest.mark.parametrize("event", DOCUMENT_EVENTS, ids=lambda event: event.type)
def test_every_event_carries_the_common_fields(event: Event) -> None:
    body = to_wire(event)
    assert str(uuid.UUID(body["event_id"])) == body["event_id"] == event.event_id
    assert body["type"] == type(event).__name__
    assert body["schema_version"] == 1
    assert body["org_id"] == ORG
    assert body["document_id"] == "d1"


@pytest.mark.parametrize("event", DOCUMENT_EVENTS, ids=lambda event: event.type)
def test_occurred_at_is_rfc3339_utc_ending_in_z(event: Event) -> None:
    stamp = to_wire(event)["occurred_at"]
    assert isinstance(stamp, str)
    assert stamp.endswith("Z")
    assert "+" not in stamp
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0)
    assert parsed == event.occurred_at.astimezone(UTC)


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        (
            UPLOADED,
            {
                "owner_id": "alice",
                "folder_id": FOLDER,
                "version": 3,
                "name": "report.pdf",
                "mime_type": "application/pdf",
            },
        ),
        (SHARED, {"shared_by": "alice", "shared_with": "bob", "role": "editor"}),
        (REVOKED, {"revoked_by": "alice", "user_id": "bob"}),
        (
            DENIED,
            {"shared_by": "bob", "shared_with": "carol", "role": "owner", "reason": "permission_denied"},
        ),
        (
            REJECTED,
            {
                "message_id": "m1",
                "actor": "ingest-service",
                "reason": "not_a_member",
                "detail": "user 'mallory' is not a member of organization 'acme'",
                "folder_id": FOLDER,
            },
        ),
    ],
    ids=lambda value: value.type if isinstance(value, Event) else "",
)
def test_each_type_carries_its_own_fields(event: Event, fields: dict[str, Any]) -> None:
    body = to_wire(event)
    assert {name: body.get(name) for name in fields} == fields


def test_a_command_rejected_without_a_document_names_no_document() -> None:
    event = CommandRejected(org_id=ORG, message_id="m1", actor="svc", reason="conflict", detail="taken")
    assert to_wire(event).get("document_id") is None


def test_a_command_rejected_sends_the_ids_it_does_not_know_as_null_rather_than_leaving_them_out() -> None:
    event = CommandRejected(org_id=ORG, message_id="m1", actor="add_member", reason="invalid", detail="x")
    body = to_wire(event)
    assert {name: body[name] for name in ("document_id", "folder_id", "user_id")} == dict.fromkeys(
        ("document_id", "folder_id", "user_id")
    )


@pytest.mark.parametrize("event", DOCUMENT_EVENTS, ids=lambda event: event.type)
def test_the_body_is_json_and_round_trips(event: Event) -> None:
    body = to_wire(event)
    assert json.loads(json.dumps(body)) == body


def _events_of_a_real_session() -> list[Event]:
    """Every kind of document event, produced by the use cases from an upload that has content."""
    db = FakeDatabase().with_member("alice", "bob").with_folder()
    upload = UploadDocument(
        doc_id="d1",
        org_id=ORG,
        folder_id=FOLDER,
        owner_id="alice",
        name="report.pdf",
        mime_type="application/pdf",
        blob_uri=BLOB_URI,
        tags=TAGS,
    )
    upload_document(upload, db.uow(), now=FakeClock())
    share_document(
        ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.VIEWER), db.uow()
    )
    revoke_access(RevokeAccess(doc_id="d1", revoked_by="alice", user_id="bob"), db.uow())
    denied = ShareDocument(doc_id="d1", shared_by="bob", shared_with="bob", role=Role.OWNER)
    execute(denied, message_id="m1", actor="bob", new_uow=db.uow_factory())
    new_version_without_edit = dataclasses.replace(upload, owner_id="bob")
    execute(new_version_without_edit, message_id="m2", actor="bob", new_uow=db.uow_factory())
    return db.events


def test_no_event_carries_document_content() -> None:
    events = _events_of_a_real_session()
    assert {type(event) for event in events} >= {
        DocumentUploaded,
        DocumentShared,
        AccessRevoked,
        ShareDenied,
        CommandRejected,
    }
    for event in events:
        body = to_wire(event)
        assert "blob_uri" not in body
        assert "tags" not in body
        text = json.dumps(body)
        assert BLOB_URI not in text
        assert not any(tag in text for tag in TAGS)
