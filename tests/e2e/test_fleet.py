"""The fleet end to end: commands in over RabbitMQ, state in Postgres, events out on doc.events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dramatiq.results import ResultBackend, Results
from sqlalchemy import create_engine, select, text

from adapters.postgres.tables import access_policies
from adapters.rabbitmq.subscription import EventSubscription
from tests.e2e.fleet import Client, outcomes_of
from workers.settings import Settings

pytestmark = pytest.mark.e2e
QUIET_S = 3.0
"""How long to keep listening for an event that must not come, once everything before it has come."""


@dataclass(frozen=True)
class Scene:
    org: str
    alice: str
    bob: str
    folder: str
    doc: str


@pytest.fixture
def scene(client: Client) -> Scene:
    """A new organization with members alice and bob, a folder, and a document alice uploaded."""
    suffix = uuid.uuid4().hex[:8]
    scene = Scene(f"org-{suffix}", f"alice-{suffix}", f"bob-{suffix}", f"folder-{suffix}", f"doc-{suffix}")
    for user in (scene.alice, scene.bob):
        client.perform("add_member", "MemberAdded", org_id=scene.org, user_id=user)
    client.perform(
        "create_folder",
        "FolderCreated",
        folder_id=scene.folder,
        org_id=scene.org,
        name="Reports",
        created_by=scene.alice,
    )
    client.perform(
        "upload_document",
        "DocumentUploaded",
        doc_id=scene.doc,
        org_id=scene.org,
        folder_id=scene.folder,
        owner_id=scene.alice,
        name="q3.pdf",
        mime_type="application/pdf",
        blob_uri=f"s3://e2e-bucket/{scene.doc}.pdf",
    )
    return scene


def about(doc: str, *types: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body.get("document_id") == doc and body.get("type") in types


def test_a_share_publishes_exactly_one_correct_document_shared(
    client: Client, scene: Scene, fleet_settings: Settings
) -> None:
    with EventSubscription(fleet_settings.amqp_url, ["document.shared.*"], name="e2e-shared") as tap:
        consumer = Client(client.broker, client.actors, tap)
        sent = client.send(
            "share_document", doc_id=scene.doc, shared_by=scene.alice, shared_with=scene.bob, role="viewer"
        )
        shared = consumer.events(about(scene.doc, "DocumentShared"))
        assert shared, f"no DocumentShared for share message {sent.message_id}"
        shared = consumer.events(about(scene.doc, "DocumentShared"), count=2, timeout=QUIET_S)

    assert len(shared) == 1
    event = shared[0]
    body = event.payload()
    assert event.routing_key == "document.shared.viewer"
    assert (event.message_id, event.type) == (body["event_id"], "DocumentShared")
    assert (event.content_type, event.delivery_mode) == ("application/json", 2)
    assert {key: body[key] for key in ("org_id", "document_id", "shared_by", "shared_with", "role")} == {
        "org_id": scene.org,
        "document_id": scene.doc,
        "shared_by": scene.alice,
        "shared_with": scene.bob,
        "role": "viewer",
    }
    assert body["schema_version"] == 1
    assert body["occurred_at"].endswith("Z")


def test_the_same_share_message_twice_has_one_effect_and_one_event(
    client: Client, scene: Scene, fleet_settings: Settings, fleet_log: Path
) -> None:
    share = client.actors["share_document"].message(
        doc_id=scene.doc, shared_by=scene.alice, shared_with=scene.bob, role="editor"
    )
    client.broker.enqueue(share)
    client.broker.enqueue(share)
    first = client.events(about(scene.doc, "DocumentShared"))
    assert first, "no DocumentShared"
    both = outcomes_of(fleet_log / "fleet.log", share.message_id, count=2)
    twice = client.events(about(scene.doc, "DocumentShared"), count=2, timeout=QUIET_S)
    client.perform(
        "revoke_access", "AccessRevoked", doc_id=scene.doc, revoked_by=scene.alice, user_id=scene.bob
    )
    client.broker.enqueue(share)  # a late redelivery must not grant the role again
    all_three = outcomes_of(fleet_log / "fleet.log", share.message_id, count=3)
    late = client.events(about(scene.doc, "DocumentShared"), count=2, timeout=QUIET_S)

    assert sorted(both) == ["applied", "duplicate"], "each copy handled, one of them applied"
    assert all_three[2:] == ["duplicate"]
    assert first[0].payload()["role"] == "editor"
    assert len(twice) == 1
    assert len(late) == 1
    assert _role_of(fleet_settings, scene.doc, scene.bob) is None


def test_a_refused_share_yields_share_denied_and_no_document_shared(client: Client, scene: Scene) -> None:
    stranger = f"carol-{uuid.uuid4().hex[:6]}"
    client.perform("add_member", "MemberAdded", org_id=scene.org, user_id=stranger)
    client.send("share_document", doc_id=scene.doc, shared_by=scene.bob, shared_with=stranger, role="viewer")

    denied = client.events(about(scene.doc, "ShareDenied"))
    shared = client.events(about(scene.doc, "DocumentShared"), timeout=QUIET_S)

    assert len(denied) == 1
    body = denied[0].payload()
    assert denied[0].routing_key == "document.share_denied"
    assert (body["shared_by"], body["shared_with"], body["role"]) == (scene.bob, stranger, "viewer")
    assert body["reason"] == "permission_denied"
    assert shared == []


def test_list_folder_returns_the_uploaded_document_through_the_results_backend(
    client: Client, scene: Scene
) -> None:
    message = client.send("list_folder", folder_id=scene.folder, requested_by=scene.alice)
    result = message.get_result(backend=_results_backend(client), block=True, timeout=30_000)

    assert [document["id"] for document in result["documents"]] == [scene.doc]
    document = result["documents"][0]
    assert (document["name"], document["owner_id"], document["version"]) == ("q3.pdf", scene.alice, 1)
    assert result["next_cursor"] is None


def _results_backend(client: Client) -> ResultBackend:
    backend: ResultBackend = next(m.backend for m in client.broker.middleware if isinstance(m, Results))
    return backend


def _role_of(settings: Settings, doc: str, user: str) -> str | None:
    engine = create_engine(settings.database_url)
    query = select(access_policies.c.role).where(
        access_policies.c.document_id == doc, access_policies.c.user_id == user
    )
    try:
        with engine.connect() as connection:
            return connection.scalar(query)
    finally:
        engine.dispose()


def test_a_dba_can_tell_the_fleets_connections_apart(scene: Scene, fleet_settings: Settings) -> None:
    """Once the scene's commands ran and their events went out, Postgres shows the workers' connections
    under their process ids and the relay's under its name."""
    engine = create_engine(fleet_settings.database_url)
    query = text(
        "SELECT DISTINCT application_name FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE 'docfleet-%'"
    )
    try:
        with engine.connect() as connection:
            names = set(connection.execute(query).scalars())
    finally:
        engine.dispose()

    worker_pids = [int(name.rsplit(" ", 1)[1]) for name in names if name.startswith("docfleet-worker pid ")]
    assert "docfleet-relay" in names, names
    assert any(_is_a_worker_process(pid) for pid in worker_pids), names


def _is_a_worker_process(pid: int) -> bool:
    """A live ``docfleet worker`` process (its supervisor's command line names ``worker`` too)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone: a connection Postgres had not yet seen closed
        return False
    return any(arg.endswith(b"docfleet") for arg in argv) and b"worker" in argv and b"supervise" not in argv
