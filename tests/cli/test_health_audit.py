"""``docfleet health``'s ``audit`` check: made only where the audit queue exists, failing while no audit
consumer reads it."""

from __future__ import annotations

import dataclasses

import pika
import pytest

from adapters.event_codec import EVENTS_EXCHANGE
from tests.support.services import unique_name
from workers.audit_wire import dead_letter_queue, declare_audit_queue
from workers.cli.health import Check, run_checks
from workers.settings import Settings

pytestmark = pytest.mark.integration


def _audit(settings: Settings) -> list[Check]:
    return [check for check in run_checks(settings, max_relay_lag=30.0) if check.name == "audit"]


def test_the_check_is_made_once_the_queue_exists_and_holds_while_a_consumer_reads_it(
    settings: Settings,
) -> None:
    settings = dataclasses.replace(settings, audit_queue=unique_name("audit"))
    queue = settings.audit_queue
    before = _audit(settings)
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        channel = connection.channel()
        declare_audit_queue(channel, queue)
        channel.basic_publish(EVENTS_EXCHANGE, "member.added", b"{}")
        channel.basic_publish("", dead_letter_queue(queue), b"not an event")
        unread = _audit(settings)
        channel.basic_consume(queue, lambda *_: None)
        read = _audit(settings)
    finally:
        connection.close()

    assert before == []
    assert [(check.ok, check.detail) for check in unread] == [
        (
            False,
            f"{queue}: no consumer, 1 event waiting: is docfleet audit running? (retired: delete the queue,"
            f" docs/audit-consumer.md); 1 malformed event in {queue}.XQ",
        )
    ]
    [check] = read
    assert check.ok
    assert check.detail.startswith(f"{queue}: 1 consumer, ")
