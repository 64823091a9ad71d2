"""Metrics scraped over HTTP from a running fleet of two worker processes and its relay.

The counters of the module's fleet add up over its tests, so each test compares a scrape taken before
what it sends with one taken after: what it asserts is only what it caused.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.results import Results

from adapters.rabbitmq.subscription import EventSubscription
from tests.e2e.fleet import Client
from tests.e2e.test_metrics_support import (
    MetricsFleet,
    delta,
    message_deltas,
    metrics_fleet,
    own_services,
    per_process,
    publish_raw,
    scrape,
    serves_both_processes,
    value,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

PROCESSED = "docfleet_messages_processed_total"
OUTCOMES = "docfleet_message_outcomes_total"
DEAD = "docfleet_messages_dead_lettered_total"
PUBLISHED = "docfleet_relay_events_published_total"
OUTCOME_WORDS = ("applied", "duplicate", "invalid", "refused", "retrying")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricsFleet]:
    with own_services() as settings, metrics_fleet(settings, tmp_path_factory.mktemp("metrics")) as fleet:
        wait_for(lambda: serves_both_processes(fleet), what="the worker metrics endpoint")
        yield fleet


@pytest.fixture(scope="module")
def producer(fleet: MetricsFleet) -> Iterator[tuple[dramatiq.Broker, dict[str, Any]]]:
    from workers.actors import declare_on
    from workers.broker import build_broker

    broker = build_broker(dataclasses.replace(fleet.settings, metrics_enabled=False))
    try:
        yield broker, declare_on(broker)
    finally:
        broker.close()


@pytest.fixture
def client(fleet: MetricsFleet, producer: tuple[dramatiq.Broker, dict[str, Any]]) -> Iterator[Client]:
    with EventSubscription(fleet.settings.amqp_url, ["#"], name="metrics-tap") as tap:
        yield Client(*producer, tap)


def test_every_worker_process_counts_and_one_endpoint_serves_the_sum(
    fleet: MetricsFleet, client: Client
) -> None:
    org, command = f"org-{uuid.uuid4().hex[:8]}", {"queue": "documents", "actor": "add_member"}
    before = scrape(fleet.worker_port)
    for index in range(10):
        client.send("add_member", org_id=org, user_id=f"user-{index}")
    twice = client.actors["add_member"].message(org_id=org, user_id="user-twice")
    client.broker.enqueue(twice)
    client.broker.enqueue(twice)  # the same message id: a duplicate
    client.send("add_member", org_id="not an id", user_id="x")  # invalid: dead-lettered at once
    client.send(
        "create_folder", folder_id=f"f-{org}", org_id=org, name="F", parent_id=None, created_by="nobody"
    )

    def counted() -> bool:  # every counter asserted below, as each is incremented a moment after the other
        after = scrape(fleet.worker_port)
        outcomes = sum(delta(before, after, OUTCOMES, actor="add_member", outcome=o) for o in OUTCOME_WORDS)
        folder = delta(before, after, OUTCOMES, actor="create_folder", outcome="refused")
        return outcomes >= 13 and folder >= 1 and delta(before, after, DEAD, **command) >= 1

    wait_for(counted, what="13 add_member and 1 create_folder counted")
    after = scrape(fleet.worker_port)
    assert message_deltas(before, after, **command) == {"processed": 13, "failed": 1, "retried": 0, "dead": 1}
    assert delta(before, after, "docfleet_message_duration_seconds_count", **command) == 13
    assert {
        outcome: delta(before, after, OUTCOMES, actor="add_member", outcome=outcome)
        for outcome in OUTCOME_WORDS
    } == {"applied": 11, "duplicate": 1, "invalid": 1, "refused": 0, "retrying": 0}
    assert delta(before, after, OUTCOMES, actor="create_folder", outcome="refused") == 1
    assert value(after, "docfleet_messages_in_progress", **command) == 0
    assert value(after, "docfleet_worker_processes") == 2
    assert after[("docfleet_redelivered_waiting_for_turn", frozenset())] == 0, "served, and no line"
    assert after[("docfleet_redelivered_turns_overtaken_total", frozenset())] == 0

    [run_dir] = fleet.run_dirs()
    by_process = per_process(run_dir, PROCESSED, **command)
    assert len(by_process) == 2, "one counter file per worker process"
    assert all(count > 0 for count in by_process.values()), by_process
    assert sum(by_process.values()) == value(after, PROCESSED, **command)


def test_listing_cache_lookups_count_a_miss_then_a_hit(fleet: MetricsFleet, client: Client) -> None:
    org, folder = f"org-{uuid.uuid4().hex[:8]}", f"f-{uuid.uuid4().hex[:8]}"
    client.perform("add_member", "MemberAdded", org_id=org, user_id="alice")
    client.perform(
        "create_folder", "FolderCreated", folder_id=folder, org_id=org, name="F", created_by="alice"
    )
    before = scrape(fleet.worker_port)
    backend = next(m.backend for m in client.broker.middleware if isinstance(m, Results))
    for _ in range(2):
        message = client.send("list_folder", folder_id=folder, requested_by="alice")
        assert message.get_result(backend=backend, block=True, timeout=20_000) == {
            "documents": [],
            "next_cursor": None,
        }
    answered = {"actor": "list_folder", "outcome": "answered"}  # counted just after the result is stored
    wait_for(lambda: delta(before, scrape(fleet.worker_port), OUTCOMES, **answered) >= 2, what="2 answers")
    after = scrape(fleet.worker_port)

    lookups = "docfleet_cache_lookups_total"
    assert delta(before, after, lookups, cache="listing", result="miss") == 1
    assert delta(before, after, lookups, cache="listing", result="hit") == 1
    assert delta(before, after, "docfleet_cache_degraded_calls_total") == 0
    assert delta(before, after, OUTCOMES, **answered) == 2


def test_unreadable_messages_and_unknown_actors_are_dead_letters_of_actor_unknown(
    fleet: MetricsFleet, client: Client
) -> None:
    worker_before, relay_before = scrape(fleet.worker_port), scrape(fleet.relay_port)
    publish_raw(fleet.settings.amqp_url, b"not a Dramatiq envelope")
    unknown: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents", actor_name="no_such_actor", args=(), kwargs={}, options={}
    )
    client.broker.enqueue(unknown)

    def counted() -> bool:
        worker, relay = scrape(fleet.worker_port), scrape(fleet.relay_port)
        dead = delta(worker_before, worker, DEAD, queue="documents", actor="unknown")
        invalid = delta(worker_before, worker, OUTCOMES, actor="unknown", outcome="invalid")
        other = delta(relay_before, relay, PUBLISHED, routing_key="command.rejected.other")
        return dead >= 2 and invalid >= 2 and other >= 1

    wait_for(counted, what="the dead letters and the rejection counted")
    worker, relay = scrape(fleet.worker_port), scrape(fleet.relay_port)
    assert delta(worker_before, worker, DEAD, queue="documents", actor="unknown") == 2
    assert delta(worker_before, worker, OUTCOMES, actor="unknown", outcome="invalid") == 2
    assert delta(relay_before, relay, PUBLISHED, routing_key="command.rejected.other") == 1
    assert all(("routing_key", "command.rejected.no_such_actor") not in labels for _, labels in relay)


def test_the_relay_counts_published_events_per_routing_key_and_its_outbox(
    fleet: MetricsFleet, client: Client
) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    before = scrape(fleet.relay_port)
    for user in ("ann", "ben", "cid"):
        client.perform("add_member", "MemberAdded", org_id=org, user_id=user)
    client.perform(
        "create_folder", "FolderCreated", folder_id=f"f-{org}", org_id=org, name="F", created_by="ann"
    )

    def published() -> bool:
        now = scrape(fleet.relay_port)
        members, folders = (
            delta(before, now, PUBLISHED, routing_key=key) for key in ("member.added", "folder.created")
        )
        return members >= 3 and folders >= 1 and value(now, "docfleet_relay_outbox_pending") == 0

    wait_for(published, what="the events counted and an empty outbox")
    after = scrape(fleet.relay_port)

    assert delta(before, after, PUBLISHED, routing_key="member.added") == 3
    assert delta(before, after, PUBLISHED, routing_key="folder.created") == 1
    events = sum(
        delta(before, after, PUBLISHED, **dict(labels)) for name, labels in after if name == PUBLISHED
    )
    assert delta(before, after, "docfleet_relay_batch_events_sum") == events
    assert 1 <= delta(before, after, "docfleet_relay_batch_events_count") <= events
    assert value(after, "docfleet_relay_leader") == 1
    assert value(after, "docfleet_relay_outbox_oldest_pending_age_seconds") == 0


def test_a_command_that_outlives_its_retries_counts_each_attempt_then_one_dead_letter(
    fleet: MetricsFleet, client: Client
) -> None:
    labels = {"queue": "documents", "actor": "revoke_access"}
    before = scrape(fleet.worker_port)
    client.send("revoke_access", doc_id=f"doc-{uuid.uuid4().hex[:8]}", revoked_by="ann", user_id="ben")

    wait_for(lambda: delta(before, scrape(fleet.worker_port), DEAD, **labels) >= 1, 60, "the dead letter")
    after = scrape(fleet.worker_port)
    assert message_deltas(before, after, **labels) == {"processed": 9, "failed": 9, "retried": 8, "dead": 1}
    assert delta(before, after, OUTCOMES, actor="revoke_access", outcome="retrying") == 8
    assert delta(before, after, OUTCOMES, actor="revoke_access", outcome="dead_lettered") == 1


def test_group_commit_counts_every_upload_in_exactly_one_transaction(
    fleet: MetricsFleet, client: Client
) -> None:
    org, folder = f"org-{uuid.uuid4().hex[:8]}", f"f-{uuid.uuid4().hex[:8]}"
    client.perform("add_member", "MemberAdded", org_id=org, user_id="alice")
    client.perform(
        "create_folder", "FolderCreated", folder_id=folder, org_id=org, name="F", created_by="alice"
    )
    before = scrape(fleet.worker_port)
    uploads = 40
    for index in range(uploads):
        client.send(
            "upload_document",
            doc_id=f"{folder}-d{index}",
            org_id=org,
            folder_id=folder,
            owner_id="alice",
            name=f"d{index}.pdf",
            mime_type="application/pdf",
            blob_uri=f"s3://bucket/{folder}/d{index}.pdf",
            tags=[],
        )
    applied = {"actor": "upload_document", "outcome": "applied"}
    wait_for(lambda: delta(before, scrape(fleet.worker_port), OUTCOMES, **applied) >= uploads, what="uploads")
    after = scrape(fleet.worker_port)
    carried = {how: delta(before, after, "docfleet_group_commit_commands_sum", how=how) for how in HOWS}
    transactions = {
        how: delta(before, after, "docfleet_group_commit_commands_count", how=how) for how in HOWS
    }
    assert carried["alone"] + carried["together"] == uploads
    assert carried["failed"] == transactions["failed"] == 0
    assert transactions["alone"] + transactions["together"] <= uploads


HOWS = ("alone", "together", "failed")
