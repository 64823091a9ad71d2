"""The worker wired by ``Application.from_settings`` to the real Postgres and Valkey, on a StubBroker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import valkey
from sqlalchemy import Engine, func, select

from adapters.postgres.tables import inbox, outbox
from tests.conftest import IdMaker
from tests.support.cycles import left_to_the_collector
from tests.workers.support import Fleet, wired_fleet, wired_settings
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str, valkey_url: str, key_prefix: str) -> Settings:
    return wired_settings(database_url, valkey_url, key_prefix)


@pytest.fixture
def fleet(settings: Settings) -> Iterator[Fleet]:
    with wired_fleet(settings, threads=4) as fleet:
        yield fleet


def events(engine: Engine, **where: str) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).order_by(outbox.c.seq)
    for key, value in where.items():
        query = query.where(outbox.c.payload[key].astext == value)
    with engine.connect() as connection:
        return [dict(row.payload) for row in connection.execute(query)]


def seed(fleet: Fleet, new_id: IdMaker) -> dict[str, str]:
    ids = {"org": new_id("org"), "folder": new_id("folder"), "doc": new_id("doc"), "alice": new_id("alice")}
    fleet.send("add_member", org_id=ids["org"], user_id=ids["alice"])
    fleet.settle()
    fleet.send(
        "create_folder", folder_id=ids["folder"], org_id=ids["org"], name="Reports", created_by=ids["alice"]
    )
    fleet.settle()
    return ids


def upload_kwargs(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "doc_id": ids["doc"],
        "org_id": ids["org"],
        "folder_id": ids["folder"],
        "owner_id": ids["alice"],
        "name": "Robert'); DROP TABLE documents;--",
        "mime_type": "application/pdf",
        "blob_uri": f"s3://blobs/{ids['doc']}/v1",
        "tags": ["finance", "q3"],
    }


def test_a_message_sent_many_times_at_once_is_applied_once(
    fleet: Fleet, engine: Engine, new_id: IdMaker
) -> None:
    ids = seed(fleet, new_id)
    message = fleet.message("upload_document", **upload_kwargs(ids))

    senders = [threading.Thread(target=fleet.broker.enqueue, args=(message,)) for _ in range(6)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    fleet.settle()

    [uploaded] = events(engine, document_id=ids["doc"])
    assert (uploaded["type"], uploaded["version"], uploaded["name"]) == (
        "DocumentUploaded",
        1,
        "Robert'); DROP TABLE documents;--",
    )
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).where(inbox.c.message_id == message.message_id))
    assert count == 1


def test_an_invalid_command_leaves_only_its_rejection_in_the_outbox(
    fleet: Fleet, engine: Engine, new_id: IdMaker
) -> None:
    ids = seed(fleet, new_id)
    message = fleet.send("upload_document", **{**upload_kwargs(ids), "blob_uri": "file:///etc/passwd"})
    fleet.settle()

    assert [m.message_id for m in fleet.dead_letters()] == [message.message_id]
    assert events(engine, document_id=ids["doc"]) == events(engine, message_id=message.message_id)
    [rejected] = events(engine, message_id=message.message_id)
    assert (rejected["type"], rejected["reason"], rejected["org_id"]) == (
        "CommandRejected",
        "invalid",
        ids["org"],
    )
    assert rejected["detail"].startswith("blob_uri: must be an absolute URI")


def test_not_found_after_its_retries_is_rejected_in_the_outbox(
    fleet: Fleet, engine: Engine, new_id: IdMaker
) -> None:
    ghost = new_id("ghost")
    message = fleet.send("revoke_access", doc_id=ghost, revoked_by="alice", user_id="bob")
    fleet.settle()

    [rejected] = events(engine, message_id=message.message_id)
    assert (rejected["reason"], rejected["document_id"], rejected["org_id"]) == ("not_found", ghost, None)


def test_a_folder_listing_comes_back_through_valkey(
    fleet: Fleet, settings: Settings, key_prefix: str, new_id: IdMaker, caplog: pytest.LogCaptureFixture
) -> None:
    ids = seed(fleet, new_id)
    fleet.send("upload_document", **upload_kwargs(ids))
    fleet.settle()

    with caplog.at_level(logging.WARNING, logger="dramatiq"):
        message = fleet.send("list_folder", folder_id=ids["folder"], requested_by=ids["alice"])
        result = fleet.result(message)
        fleet.settle()

    assert not [record.getMessage() for record in caplog.records if record.name.startswith("dramatiq")]

    assert [document["id"] for document in result["documents"]] == [ids["doc"]]
    assert result["documents"][0]["tags"] == ["finance", "q3"]
    assert result["next_cursor"] is None
    key = f"{key_prefix}results:documents-queries:list_folder:{message.message_id}"
    client = valkey.Valkey.from_url(settings.valkey_url)
    try:
        ttl_ms: int = client.pttl(key)  # type: ignore[assignment]
    finally:
        client.close()  # type: ignore[no-untyped-call]
    assert settings.result_ttl_ms // 2 < ttl_ms <= settings.result_ttl_ms


def test_uploads_shares_and_listings_leave_nothing_to_the_cyclic_collector(
    fleet: Fleet, new_id: IdMaker
) -> None:
    """Every object a message made is freed as soon as it is done; a cycle per message cost a worker
    5 to 7 % of its CPU and pauses of tens of ms (docs/performance.md)."""
    ids = seed(fleet, new_id)
    with left_to_the_collector() as left:
        for n in range(20):
            fleet.send("upload_document", **{**upload_kwargs(ids), "doc_id": f"{ids['doc']}-{n}"})
        fleet.settle()
        for n in range(20):
            shared = {"shared_by": ids["alice"], "shared_with": f"bob-{n}", "role": "viewer"}
            fleet.send("share_document", doc_id=f"{ids['doc']}-{n}", **shared)
        listing = fleet.send("list_folder", folder_id=ids["folder"], requested_by=ids["alice"])
        assert len(fleet.result(listing)["documents"]) == 20
        fleet.settle()
    assert left == []
