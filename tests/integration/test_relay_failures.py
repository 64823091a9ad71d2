"""An unconfirmed batch stays in the outbox and goes out later; polling finds rows without NOTIFY."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from adapters.postgres.mappers import outbox_values
from adapters.postgres.outbox import FETCH_UNPUBLISHED
from adapters.postgres.tables import outbox
from adapters.rabbitmq.confirmed_channel import PublishError, PublishStopped
from adapters.rabbitmq.wire import PublishableEvent
from domain.events import Event
from tests.integration.test_relay_support import (
    RecordingPublisher,
    commit_events,
    engine_for,
    published_at,
    relay_settings,
    uploaded,
)
from tests.support.services import throwaway_database
from workers.metrics.relay import RelayMetrics
from workers.relay import RelayOptions, run_relay

pytestmark = pytest.mark.integration


class FailingOnce(RecordingPublisher):
    """Fails its first batch as a lost connection would, after nothing was confirmed."""

    failures = 0

    def publish(self, records: Sequence[PublishableEvent]) -> set[str]:
        if FailingOnce.failures == 0:
            FailingOnce.failures += 1
            raise PublishError("RabbitMQ refused the batch (test)")
        return super().publish(records)


def _relay(
    database_url: str,
    amqp_url: str,
    published: list[str],
    publisher: type[RecordingPublisher],
    metrics: RelayMetrics | None = None,
    stop: threading.Event | None = None,
) -> tuple[threading.Event, threading.Thread]:
    stop = stop or threading.Event()
    name = f"relay-test-{uuid.uuid4().hex[:8]}"
    thread = threading.Thread(
        target=run_relay,
        args=(relay_settings(database_url, amqp_url), stop),
        kwargs={
            "options": RelayOptions(poll_interval=0.5, backoff_initial=0.1, backoff_max=0.5),
            "publisher_factory": lambda: publisher(amqp_url, name, published),
            "metrics": metrics or RelayMetrics(),
        },
        daemon=True,
    )
    thread.start()
    return stop, thread


def _wait_until_published(engine: Engine, events: Sequence[Event], timeout: float) -> dict[str, object]:
    ids = [event.event_id for event in events]
    deadline = time.monotonic() + timeout
    marks = published_at(engine, ids)
    while any(marks.get(i) is None for i in ids) and time.monotonic() < deadline:
        time.sleep(0.1)
        marks = published_at(engine, ids)
    return marks


def test_a_batch_that_was_not_confirmed_stays_pending_and_is_published_on_the_next_attempt(
    database_url: str, amqp_url: str
) -> None:
    FailingOnce.failures = 0
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    events = [uploaded(org, doc, version) for version in range(1, 4)]
    published: list[str] = []
    metrics = RelayMetrics()
    with engine_for(database_url) as engine:
        commit_events(engine, events)
        stop, thread = _relay(database_url, amqp_url, published, FailingOnce, metrics)
        try:
            marks = _wait_until_published(engine, events, timeout=20.0)
        finally:
            stop.set()
            thread.join(30)

    assert not thread.is_alive(), "the relay did not stop: it would keep leading for later tests"
    assert FailingOnce.failures == 1, "the first batch was refused"
    errors = metrics.registry.get_sample_value("docfleet_relay_errors_total", {"service": "rabbitmq"})
    assert errors == 1, "the start-over is counted, for an alert while RabbitMQ is down"
    assert all(marks[event.event_id] is not None for event in events)
    assert [i for i in published if i in marks] == [event.event_id for event in events]


class FailsAsAStopComes(RecordingPublisher):
    """Asks the relay to stop, then fails its batch with ``error``."""

    stop = threading.Event()
    error: PublishError

    def publish(self, records: Sequence[PublishableEvent]) -> set[str]:
        FailsAsAStopComes.stop.set()
        raise FailsAsAStopComes.error


STOPPED = PublishStopped("waiting for publisher confirms: stopped while RabbitMQ blocked it (test)")
LOST = PublishError("waiting for publisher confirms: connection to RabbitMQ lost (test)")


@pytest.mark.parametrize(
    ("error", "logged", "counted"),
    [
        (STOPPED, "relay stopping: the batch in flight is left to the next leader", 0.0),
        (LOST, "relay error, starting over", 1.0),  # an error that merely comes with a stop
    ],
)
def test_only_a_stop_that_ends_a_batchs_wait_is_told_as_a_stop(
    database_url: str, amqp_url: str, error: PublishError, logged: str, counted: float
) -> None:
    event = uploaded(f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}")
    metrics = RelayMetrics()
    FailsAsAStopComes.stop, FailsAsAStopComes.error = threading.Event(), error
    with engine_for(database_url) as engine, capture_logs() as logs:
        commit_events(engine, [event])
        _stop, thread = _relay(database_url, amqp_url, [], FailsAsAStopComes, metrics, FailsAsAStopComes.stop)
        thread.join(30)
        marks = published_at(engine, [event.event_id])

    assert not thread.is_alive()
    assert marks[event.event_id] is None, "left to the next leader"
    told = {entry["event"] for entry in logs} & {
        "relay stopping: the batch in flight is left to the next leader",
        "relay error, starting over",
    }
    assert told == {logged}
    assert (
        metrics.registry.get_sample_value("docfleet_relay_errors_total", {"service": "rabbitmq"}) == counted
    )


def _wait_until_the_relay_waits_on_listen(engine: Engine, timeout: float = 20.0) -> None:
    """Until the relay listens and its leader's last statement, the fetch, found nothing to publish:
    the relay then sleeps on LISTEN, and a row it finds later was not in that first fetch."""
    sessions = text(
        "SELECT count(*) FILTER (WHERE query LIKE 'LISTEN %'),"
        " count(*) FILTER (WHERE state = 'idle' AND query = :fetch)"
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    fetch = FETCH_UNPUBLISHED.replace("%s", "$1")  # as the server shows the prepared statement
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            listening, fetched = connection.execute(sessions, {"fetch": fetch}).one()
        if listening and fetched:
            return
        time.sleep(0.05)
    raise AssertionError("the relay never came to wait on LISTEN after an empty fetch")


def test_a_row_committed_without_notify_is_found_by_polling(fresh_database_url: str, amqp_url: str) -> None:
    database_url = fresh_database_url  # an empty outbox: the relay's first fetch finds nothing
    org, doc = f"org-{uuid.uuid4().hex[:8]}", f"doc-{uuid.uuid4().hex[:8]}"
    event = uploaded(org, doc)
    published: list[str] = []
    with engine_for(database_url) as engine:
        stop, thread = _relay(database_url, amqp_url, published, RecordingPublisher)
        try:
            _wait_until_the_relay_waits_on_listen(engine)
            with engine.begin() as connection:  # no pg_notify: only the polling fallback can see it
                connection.execute(outbox.insert(), [outbox_values(event)])
            marks = _wait_until_published(engine, [event], timeout=10.0)
        finally:
            stop.set()
            thread.join(30)

    assert not thread.is_alive(), "the relay did not stop: it would keep leading for later tests"
    assert marks[event.event_id] is not None
    assert event.event_id in published


def test_a_database_without_the_schema_is_told_with_what_makes_it(database_url: str, amqp_url: str) -> None:
    with throwaway_database(database_url) as empty, capture_logs() as logs:
        stop, thread = _relay(empty, amqp_url, [], RecordingPublisher)
        try:
            deadline = time.monotonic() + 20
            while not [line for line in logs if "hint" in line] and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(30)

    assert not thread.is_alive()
    errors = [line for line in logs if line["event"] == "relay error, starting over"]
    assert errors, "the relay never tried the outbox"
    assert errors[0]["hint"] == "a table is missing: is this the right database, migrated (docfleet migrate)?"
    assert "UndefinedTable" in errors[0]["error"] or "does not exist" in errors[0]["error"]
