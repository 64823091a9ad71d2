"""The relay goes on when RabbitMQ or Postgres drops its connections: it reconnects, publishes the rest."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from adapters.rabbitmq.subscription import EventSubscription
from domain.events import Event
from tests.integration.test_relay_support import (
    close_connections_named,
    commit_events,
    engine_for,
    published_at,
    running_relay,
    uploaded,
)
from tests.support.waiting import wait_for
from workers.relay import RelayOptions

pytestmark = pytest.mark.integration


def test_after_rabbitmq_closes_its_connection_the_relay_reconnects_and_publishes_the_rest(
    database_url: str, amqp_url: str
) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    events = [uploaded(org, doc, version) for version in range(1, 5)]
    with (
        engine_for(database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(database_url, amqp_url) as relay,
    ):
        commit_events(engine, events[:2])
        before = _versions(tap, org, 2)
        _wait_until_marked(engine, events[:2])
        assert close_connections_named(relay.name) == 1
        commit_events(engine, events[2:])
        after = _versions(tap, org, 2)

    assert before == [1, 2]
    assert after == [3, 4]


def test_after_postgres_drops_its_connections_the_relay_reconnects_and_publishes_the_rest(
    fresh_database_url: str, amqp_url: str
) -> None:
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    events = [uploaded(org, doc, version) for version in range(1, 5)]
    with (
        engine_for(fresh_database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        running_relay(fresh_database_url, amqp_url),
    ):
        commit_events(engine, events[:2])
        before = _versions(tap, org, 2)
        _wait_until_marked(engine, events[:2])
        assert _terminate_other_sessions(engine) >= 2, "the relay's lock and LISTEN sessions were ended"
        commit_events(engine, events[2:])
        after = _versions(tap, org, 2)

    assert before == [1, 2]
    assert after == [3, 4]


def _versions(tap: EventSubscription, org: str, count: int, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    versions: list[int] = []
    while len(versions) < count and time.monotonic() < deadline:
        event = tap.next_event(deadline - time.monotonic())
        if event is not None and event.payload().get("org_id") == org:
            versions.append(int(event.payload()["version"]))
    return versions


def _wait_until_marked(engine: Engine, events: Sequence[Event], timeout: float = 10.0) -> None:
    """Waits for the batch to be marked published, so the test's disruption cannot cause a redelivery."""

    def marked() -> bool:
        marks = published_at(engine, [event.event_id for event in events])
        return len(marks) == len(events) and all(mark is not None for mark in marks.values())

    wait_for(marked, timeout, "the relay to mark the published events")


def _terminate_other_sessions(engine: Engine) -> int:
    """Ends every other session on the test's own database, as a Postgres restart or failover would."""
    statement = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    with engine.begin() as connection:
        return int(connection.scalar(statement) or 0)


def test_a_relay_held_by_a_lock_on_the_outbox_says_so_and_publishes_once_it_is_gone(
    fresh_database_url: str, amqp_url: str
) -> None:
    """A migration or a manual transaction holding the outbox: the leader's fetch is cancelled after its
    timeout and logged, rather than waiting in silence and deaf to a stop."""
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    events = [uploaded(org, doc, version) for version in range(1, 3)]
    options = RelayOptions(poll_interval=0.2, backoff_max=0.5, statement_timeout_ms=300)
    with (
        engine_for(fresh_database_url) as engine,
        EventSubscription(amqp_url, ["document.uploaded"]) as tap,
        capture_logs() as logs,
        running_relay(fresh_database_url, amqp_url, options),
    ):
        wait_for(lambda: _said(logs, "relay is the leader"), 10, "the relay to lead")
        with engine.connect() as holder:
            holder.execute(text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))
            wait_for(lambda: _said(logs, "relay error, starting over", "statement timeout"), 10, "the stall")
            holder.rollback()
        commit_events(engine, events)
        versions = _versions(tap, org, 2)
        wait_for(lambda: _said(logs, "relay is leading again"), 10, "the relay to say it leads again")

    assert versions == [1, 2]
    assert sum(line["event"] == "relay is the leader" for line in logs) == 1, "told once, not per start over"


def _said(logs: Sequence[Mapping[str, Any]], event: str, error: str = "") -> bool:
    return any(entry["event"] == event and error in str(entry.get("error", "")) for entry in logs)
