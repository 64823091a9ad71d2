"""The relay against real Postgres and RabbitMQ: what it publishes, in which order, and how fast it wakes."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from structlog.testing import capture_logs

from adapters.rabbitmq.subscription import EventSubscription, ReceivedEvent
from domain.events import CommandRejected, DocumentShared
from tests.integration.test_relay_support import (
    commit_events,
    engine_for,
    published_at,
    running_relay,
    stop_relay,
    uploaded,
)
from tests.support.services import default_settings, throwaway_vhost
from workers.relay import RelayOptions

pytestmark = pytest.mark.integration

POLL_FALLBACK_S = 30.0  # far above a NOTIFY's wake-up, so that a slow machine cannot be mistaken for polling


def test_committed_events_are_published_with_their_routing_key_properties_and_body(
    database_url: str, amqp_url: str
) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    shared = DocumentShared(
        org_id=org, doc_id=doc, shared_by="u-owner", shared_with="u-bob", role="viewer", previous_role=None
    )
    with engine_for(database_url) as engine, EventSubscription(amqp_url, ["document.shared.*"]) as tap:
        with running_relay(database_url, amqp_url):
            commit_events(engine, [shared])
            received = _collect_org(tap, org, 1)
        marks = published_at(engine, [shared.event_id])

    assert len(received) == 1
    event = received[0]
    assert (event.routing_key, event.message_id, event.type) == (
        "document.shared.viewer",
        shared.event_id,
        "DocumentShared",
    )
    assert (event.content_type, event.delivery_mode) == ("application/json", 2)
    assert b" " not in event.body, "the body is compact JSON"
    assert json.loads(event.body) == {
        "event_id": shared.event_id,
        "type": "DocumentShared",
        "schema_version": 1,
        "occurred_at": shared.occurred_at.isoformat().replace("+00:00", "Z"),
        "org_id": org,
        "document_id": doc,
        "shared_by": "u-owner",
        "shared_with": "u-bob",
        "role": "viewer",
        "previous_role": None,
    }
    assert marks[shared.event_id] is not None


def test_one_documents_events_arrive_in_commit_order_across_batches(database_url: str, amqp_url: str) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    events = [uploaded(org, doc, version) for version in range(1, 61)]
    with (
        engine_for(database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(database_url, amqp_url, RelayOptions(batch_size=7, poll_interval=0.5)),
    ):
        for start in range(0, len(events), 4):
            commit_events(engine, events[start : start + 4])
        received = _collect_org(tap, org, len(events))

    assert [event.payload()["version"] for event in received] == list(range(1, 61))


def test_two_relays_at_once_publish_each_event_once_and_the_standby_takes_over(
    database_url: str, amqp_url: str
) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    events = [uploaded(org, doc, version) for version in range(1, 41)]
    with (
        engine_for(database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(database_url, amqp_url) as first,
    ):
        commit_events(engine, events[:1])
        assert len(_collect_org(tap, org, 1)) == 1, "the first relay leads"
        with running_relay(database_url, amqp_url) as second:
            for event in events[1:20]:
                commit_events(engine, [event])
            received = _collect_org(tap, org, 19)
            stop_relay(first)
            for event in events[20:]:
                commit_events(engine, [event])
            received += _collect_org(tap, org, 20)

    assert [event.payload()["version"] for event in received] == list(range(2, 41))
    ours = {event.event_id for event in events}
    by_first, by_second = set(first.published) & ours, set(second.published) & ours
    assert not by_first & by_second, "no event was published by both relays"
    assert by_first == {event.event_id for event in events[:20]}
    assert by_second == {event.event_id for event in events[20:]}


def test_the_relay_wakes_on_notify_well_before_its_polling_fallback(database_url: str, amqp_url: str) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    with (
        engine_for(database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(database_url, amqp_url, RelayOptions(poll_interval=POLL_FALLBACK_S)),
    ):
        commit_events(engine, [uploaded(org, doc, 1)])
        assert len(_collect_org(tap, org, 1)) == 1
        latencies = []
        for version in range(2, 5):
            committed = time.monotonic()
            commit_events(engine, [uploaded(org, doc, version)])
            assert len(_collect_org(tap, org, 1, timeout=POLL_FALLBACK_S + 5.0)) == 1
            latencies.append(time.monotonic() - committed)

    assert max(latencies) < POLL_FALLBACK_S / 3, f"latencies {latencies}: the relay waited for its poll"


def test_a_leader_waiting_out_a_long_poll_interval_stops_at_once(database_url: str, amqp_url: str) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    with (
        engine_for(database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(database_url, amqp_url, RelayOptions(poll_interval=POLL_FALLBACK_S)) as relay,
    ):
        event = uploaded(org, doc, 1)
        commit_events(engine, [event])
        assert len(_collect_org(tap, org, 1)) == 1
        marked_by = time.monotonic() + 10.0
        while published_at(engine, [event.event_id])[event.event_id] is None and time.monotonic() < marked_by:
            time.sleep(0.05)
        time.sleep(1.0)  # the leader has marked its batch and is waiting for the next NOTIFY
        asked = time.monotonic()
        stop_relay(relay)
        took = time.monotonic() - asked

    assert took < POLL_FALLBACK_S / 3, f"{took:.1f} s: the stop waited for the poll interval"


def test_an_event_nobody_subscribed_to_is_logged_marked_published_and_does_not_block_the_next(
    fresh_database_url: str,
) -> None:
    """On a database of its own: the warning names at most 20 events, which others' could fill."""
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    unroutable = CommandRejected(
        org_id=org, message_id="m-1", actor="nobody_listens", reason="invalid", detail="test"
    )
    after = uploaded(org, doc, 1)
    with (
        throwaway_vhost(default_settings().amqp_url) as vhost_url,
        engine_for(fresh_database_url) as engine,
        EventSubscription(vhost_url, ["document.uploaded"]) as tap,
        capture_logs() as logs,
    ):
        with running_relay(fresh_database_url, vhost_url):
            commit_events(engine, [unroutable])
            commit_events(engine, [after])
            received = _collect_org(tap, org, 1)
        marks = published_at(engine, [unroutable.event_id, after.event_id])

    assert [event.message_id for event in received] == [after.event_id]
    assert all(marks[event_id] is not None for event_id in (unroutable.event_id, after.event_id))
    assert any(
        entry["event"] == "events had no subscriber"
        and "command.rejected.nobody_listens" in entry.get("routing_keys", {})
        and unroutable.event_id in entry.get("event_ids", [])
        for entry in logs
    ), logs


def _collect_org(tap: EventSubscription, org: str, count: int, timeout: float = 20.0) -> list[ReceivedEvent]:
    """Up to ``count`` events of the organization, waiting at most ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    found: list[ReceivedEvent] = []
    while len(found) < count and time.monotonic() < deadline:
        event = tap.next_event(deadline - time.monotonic())
        if event is not None and event.payload().get("org_id") == org:
            found.append(event)
    return found
