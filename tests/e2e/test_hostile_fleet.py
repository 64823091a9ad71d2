"""The hostile corpus through the fleet: each message gets its contract outcome, a log line saying why,
writes nothing but its rejection, and the worker applies the next command."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest

from adapters.rabbitmq.subscription import EventSubscription
from tests.e2e.fleet import Client
from tests.e2e.hostile_checks import (
    check_answer,
    check_dead_letters,
    check_events,
    check_keys,
    check_log_line,
    check_metadata_only,
    check_writes,
)
from tests.e2e.hostile_corpus import CORPUS, MISROUTED
from tests.e2e.hostile_messages import (
    ALICE,
    DOC,
    FOLDER,
    ODD_FOLDER,
    ODD_FOLDER_NAME,
    ORG,
    Hostile,
    envelope,
    odd_uploads,
    sent_now,
)
from tests.e2e.hostile_probe import Before, Cache, Database, FleetLog, Probe, Queues, stored_fields
from tests.support.cache_keys import listing_key
from workers.settings import Settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def probe(fleet: None, fleet_settings: Settings, fleet_log: Path) -> Iterator[Probe]:
    probe = Probe(
        FleetLog(fleet_log / "fleet.log"),
        Database(fleet_settings.database_url),
        Queues(fleet_settings.amqp_url),
        Cache(fleet_settings),
    )
    yield probe
    probe.close()


@pytest.fixture(scope="module")
def scene(
    fleet: None, fleet_settings: Settings, client_broker: tuple[dramatiq.Broker, dict[str, Any]]
) -> None:
    """The organization, member, folder and document every hostile message names."""
    with EventSubscription(fleet_settings.amqp_url, ["#"], name="hostile-scene") as tap:
        client = Client(*client_broker, tap)
        client.perform("add_member", "MemberAdded", org_id=ORG, user_id=ALICE)
        folder = {"folder_id": FOLDER, "org_id": ORG, "name": "Reports", "created_by": ALICE}
        client.perform("create_folder", "FolderCreated", **folder)
        document = {"doc_id": DOC, "org_id": ORG, "folder_id": FOLDER, "owner_id": ALICE, "name": "q3.pdf"}
        document |= {"mime_type": "application/pdf", "blob_uri": f"s3://bucket/{DOC}"}
        client.perform("upload_document", "DocumentUploaded", **document)


CASES = [pytest.param(hostile, id=hostile.name) for hostile in [*CORPUS, *MISROUTED]]


@pytest.mark.parametrize("hostile", CASES)
def test_a_hostile_message_has_its_outcome_and_the_next_command_is_applied(
    hostile: Hostile, probe: Probe, scene: None, client: Client
) -> None:
    before = Before.take(probe)
    probe.queues.publish(hostile.queue, sent_now(hostile.body))

    line = probe.log.outcome_line(before.mark, hostile.message_id)
    check_log_line(hostile, line)
    check_dead_letters(hostile, probe, before)
    answer_key = check_answer(hostile, probe)
    check_writes(hostile, probe, before)
    check_keys(probe, before, answer_key)

    follow_up = client.perform("add_member", "MemberAdded", org_id=ORG, user_id=f"next-{uuid.uuid4().hex}")
    check_events(hostile, [event.payload() for event in client.received if event != follow_up])
    assert {queue: probe.queues.dead_letters(queue) for queue in before.dead_letters} == {
        queue: count + (hostile.outcome == "dead_lettered" and queue == hostile.queue)
        for queue, count in before.dead_letters.items()
    }


def test_odd_strings_the_contract_accepts_round_trip_exactly(
    probe: Probe, scene: None, client: Client, fleet_settings: Settings
) -> None:
    folder = {"folder_id": ODD_FOLDER, "org_id": ORG, "name": ODD_FOLDER_NAME, "parent_id": FOLDER}
    created = client.perform("create_folder", "FolderCreated", **folder, created_by=ALICE).payload()
    assert (created["folder_id"], created["name"], created["parent_id"]) == (
        ODD_FOLDER,
        ODD_FOLDER_NAME,
        FOLDER,
    )
    sent = {kwargs["doc_id"]: kwargs for kwargs in odd_uploads()}
    mark = probe.log.mark()
    for kwargs in sent.values():  # raw UTF-8, not \u escapes
        probe.queues.publish(
            "documents", json.dumps(envelope("upload_document", kwargs), ensure_ascii=False).encode()
        )

    uploaded = client.events(
        lambda body: body.get("folder_id") == ODD_FOLDER and "version" in body, len(sent)
    )
    assert {event.payload()["document_id"]: event.payload()["name"] for event in uploaded} == {
        doc_id: kwargs["name"] for doc_id, kwargs in sent.items()
    }
    expected = {doc_id: stored_fields(kwargs) for doc_id, kwargs in sent.items()}
    assert probe.database.documents_in(ODD_FOLDER) == expected
    for _served_from in ("the database", "the cache"):
        listed = client.send("list_folder", folder_id=ODD_FOLDER, requested_by=ALICE)
        answer = probe.cache.answer(listed.message_id)
        assert {document["id"]: stored_fields(document) for document in answer["documents"]} == expected
        assert listing_key(fleet_settings, ODD_FOLDER) in probe.cache.stored_keys()
    check_metadata_only(probe.log.lines_since(mark), [event.payload() for event in client.received], sent)
