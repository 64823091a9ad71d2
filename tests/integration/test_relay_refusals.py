"""Events RabbitMQ refuses (a bound queue full, with reject-publish) neither stop the others nor go on
forever: the rest of the batch is marked at once, each refused event is sent a few times, then given up."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from adapters.rabbitmq.subscription import EventSubscription
from domain.events import MemberAdded
from tests.integration.test_relay_support import (
    commit_events,
    engine_for,
    published_at,
    refusing_queue,
    running_relay,
    uploaded,
)
from workers.relay import RelayOptions

pytestmark = pytest.mark.integration

ATTEMPTS = 3


def test_refused_events_are_sent_a_few_times_then_given_up_while_the_rest_go_once(
    fresh_database_url: str, amqp_url: str
) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    refused = [uploaded(org, f"doc-{n}") for n in range(2)]
    confirmed = [MemberAdded(org_id=org, user_id=f"user-{n}") for n in range(3)]
    events = [refused[0], *confirmed, refused[1]]
    options = RelayOptions(poll_interval=0.2, refusal_attempts=ATTEMPTS, refusal_first_wait=0.05)
    with (
        refusing_queue(amqp_url, "document.uploaded"),
        engine_for(fresh_database_url) as engine,
        EventSubscription(amqp_url, ["#"]) as tap,
        running_relay(fresh_database_url, amqp_url, options) as relay,
    ):
        commit_events(engine, events)
        received = tap.collect(10.0, count=len(confirmed) + ATTEMPTS * len(refused))
        time.sleep(0.5)  # nothing more comes
        received += tap.collect(0.5)
        marks = published_at(engine, [event.event_id for event in events])

    copies = Counter(event.message_id for event in received)
    assert {copies[event.event_id] for event in confirmed} == {1}
    assert {copies[event.event_id] for event in refused} == {ATTEMPTS}
    assert all(marks[event.event_id] is not None for event in events)  # given up: the outbox is drained
    assert relay.published == [event.event_id for event in confirmed]


def test_events_waiting_to_be_sent_again_take_no_room_from_the_next_ones(
    fresh_database_url: str, amqp_url: str
) -> None:
    """A whole batch refused at the head of the outbox: the events after it still go out at once."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    refused = [uploaded(org, f"doc-{n}") for n in range(3)]
    later = [MemberAdded(org_id=org, user_id=f"user-{n}") for n in range(2)]
    options = RelayOptions(poll_interval=0.2, batch_size=3, refusal_attempts=3, refusal_first_wait=30.0)
    ids = [event.event_id for event in later]
    with (
        refusing_queue(amqp_url, "document.uploaded"),
        engine_for(fresh_database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(fresh_database_url, amqp_url, options),
    ):
        commit_events(engine, refused)
        assert len(tap.collect(10.0, count=len(refused))) == len(refused)  # sent once, refused
        commit_events(engine, later)
        started = time.monotonic()
        while not all(published_at(engine, ids).values()) and time.monotonic() - started < 35.0:
            time.sleep(0.05)
        waited = time.monotonic() - started

    assert waited < 10.0, "the later events waited for the refused ones to be due again (30 s)"
