"""The audit consumer waits out an unreachable Postgres or RabbitMQ, with backoff, then catches up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from adapters.postgres.engine import create_engine
from adapters.postgres.migrations import upgrade_to_head
from tests.integration.test_audit_support import (
    audit_settings,
    delete_queues,
    event_body,
    publish_events,
    row_counts,
    running_audit,
    scrape_audit,
)
from tests.support.processes import free_port
from tests.support.rabbitmq import queue_depth
from tests.support.services import default_settings, grant_vhost, rabbitmqctl, unique_name
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

RETRYING = "audit consumer error, reconnecting"


@contextmanager
def database_made_later(base_url: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """The URL of a database that does not exist yet, and the function that creates and migrates it."""
    url = make_url(base_url).set(database=unique_name("docfleet_test_later"))
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    def create() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{url.database}"')
        upgrade_to_head(url.render_as_string(hide_password=False))

    try:
        yield url.render_as_string(hide_password=False), create
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@contextmanager
def vhost_made_later(base_amqp_url: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """The URL of a RabbitMQ virtual host that does not exist yet, and the function that creates it."""
    vhost = unique_name("docfleet_test_later")

    def create() -> None:
        rabbitmqctl("add_vhost", vhost)
        grant_vhost(base_amqp_url, vhost)

    try:
        yield f"{base_amqp_url.rsplit('/', 1)[0]}/{vhost}", create
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)


def test_events_wait_in_the_queue_while_postgres_is_unreachable_and_are_recorded_after(amqp_url: str) -> None:
    bodies = [event_body() for _ in range(3)]
    ids = [body["event_id"] for body in bodies]
    with database_made_later(default_settings().database_url) as (database_url, create_database):
        settings = audit_settings(database_url, amqp_url)
        try:
            with capture_logs() as logs, running_audit(settings):
                publish_events(amqp_url, bodies)
                wait_for(lambda: sum(line["event"] == RETRYING for line in logs) >= 2, what="retries")
                while_down = [line for line in list(logs) if line["event"] == RETRYING]
                create_database()
                engine = create_engine(database_url, pool_size=1)
                try:
                    wait_for(lambda: all(row_counts(engine, ids).values()), what="the events recorded")
                    assert row_counts(engine, ids) == dict.fromkeys(ids, 1)
                finally:
                    engine.dispose()
                wait_for(lambda: queue_depth(amqp_url, settings.audit_queue) == 0, what="an empty queue")
        finally:
            delete_queues(amqp_url, settings)
    assert all("does not exist" in line["error"] for line in while_down), while_down
    delays = [line["retry_in_s"] for line in while_down]
    assert delays == sorted(delays), "a growing backoff"
    assert max(delays) <= 0.5, "a bounded backoff"


def test_the_consumer_connects_once_rabbitmq_lets_it_and_then_records(database_url: str) -> None:
    event = event_body()
    with vhost_made_later(default_settings().amqp_url) as (amqp_url, create_vhost):
        settings = audit_settings(database_url, amqp_url, metrics_port=free_port())
        with capture_logs() as logs, running_audit(settings, wait_ready=False):
            wait_for(lambda: sum(line["event"] == RETRYING for line in logs) >= 2, what="retries")
            while_refused = scrape_audit(settings.audit_metrics_port)
            create_vhost()
            wait_for(
                lambda: any(line["event"] == "audit consumer connected" for line in logs), what="connect"
            )
            port = settings.audit_metrics_port
            wait_for(lambda: scrape_audit(port)["docfleet_audit_consuming"] == 1.0, what="the gauge up")
            publish_events(amqp_url, [event])
            engine = create_engine(database_url, pool_size=1)
            try:
                wait_for(lambda: all(row_counts(engine, [event["event_id"]]).values()), what="the event")
            finally:
                engine.dispose()
    assert while_refused["docfleet_audit_consuming"] == 0.0
    assert while_refused["docfleet_audit_reconnects_total"] >= 2
