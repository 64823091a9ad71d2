"""The event publisher and the event subscription against a real RabbitMQ."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from structlog.testing import capture_logs

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.rabbitmq import publisher as publisher_module
from adapters.rabbitmq.confirmed_channel import CLOSE_TIMEOUT_S
from adapters.rabbitmq.publisher import EventPublisher, PublishError
from adapters.rabbitmq.subscription import EventSubscription
from adapters.rabbitmq.unroutable import NAMED_UNROUTABLE, UnroutableWarnings
from adapters.rabbitmq.vectored_writes import MAX_BUFFERS_PER_CALL, produce_together
from adapters.rabbitmq.wire import encode_body
from tests.integration.test_relay_support import close_connections_named, refusing_queue
from tests.support.frozen_link import FreezableLink
from tests.support.services import default_settings, throwaway_vhost

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Record:
    routing_key: str
    type: str
    event_id: str
    payload: dict[str, Any]


def record(routing_key: str, **fields: Any) -> Record:
    event_id = str(uuid.uuid4())
    body = {"role": "viewer", "org_id": "org-1", "schema_version": 1, "type": "DocumentShared", **fields}
    return Record(routing_key, "DocumentShared", event_id, {**body, "event_id": event_id})


@pytest.fixture(scope="module")
def vhost_url() -> Iterator[str]:
    """A vhost of this module's own: only its tests' temporary queues are ever bound to doc.events there."""
    with throwaway_vhost(default_settings().amqp_url) as url:
        yield url


def test_a_batch_arrives_in_order_with_its_properties_and_compact_body(vhost_url: str) -> None:
    batch = [record("document.shared.viewer", n=n) for n in range(MAX_BUFFERS_PER_CALL + 100)]
    with EventSubscription(vhost_url, ["document.shared.*"]) as tap, EventPublisher(vhost_url) as publisher:
        assert publisher._connection._transport._produce.__func__ is produce_together  # one write a batch
        publisher.publish(batch)
        received = tap.collect(10.0, count=len(batch))

    assert [event.message_id for event in received] == [r.event_id for r in batch]
    first = received[0]
    assert (first.routing_key, first.type, first.content_type, first.delivery_mode) == (
        "document.shared.viewer",
        "DocumentShared",
        "application/json",
        2,
    )
    assert first.body == encode_body(batch[0].payload)
    assert json.loads(first.body) == batch[0].payload


def test_the_body_starts_with_the_common_fields_and_has_no_spaces() -> None:
    body = encode_body({"role": "viewer", "org_id": "o", "type": "DocumentShared", "event_id": "e"})

    assert body == b'{"event_id":"e","type":"DocumentShared","org_id":"o","role":"viewer"}'


def test_events_exchange_is_a_durable_topic_exchange(vhost_url: str) -> None:
    EventPublisher(vhost_url).close()
    connection = pika.BlockingConnection(pika.URLParameters(vhost_url))
    try:
        channel = connection.channel()
        channel.exchange_declare(EVENTS_EXCHANGE, passive=True)  # closes the channel unless it exists
        # A declaration with other properties than the existing exchange's would close the channel.
        channel.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True)
    finally:
        connection.close()


def test_an_unroutable_event_counts_as_published_with_a_warning(vhost_url: str) -> None:
    nobody = record("member.added")
    routed = record("document.shared.viewer")
    with (
        EventSubscription(vhost_url, ["document.shared.*"]) as tap,
        EventPublisher(vhost_url) as publisher,
        capture_logs() as logs,
    ):
        publisher.publish([nobody, routed])
        received = tap.collect(10.0, count=1)

    assert [event.message_id for event in received] == [routed.event_id]
    warnings = [entry for entry in logs if entry["event"] == "events had no subscriber"]
    assert [(w["count"], w["routing_keys"], w["event_ids"]) for w in warnings] == [
        (1, {"member.added": 1}, [nobody.event_id])
    ]


def test_unroutable_events_of_one_batch_make_one_warning(vhost_url: str) -> None:
    nobody = [record("member.added") for _ in range(NAMED_UNROUTABLE + 5)] + [record("folder.created")]
    with EventPublisher(vhost_url) as publisher, capture_logs() as logs:
        publisher.publish(nobody)

    warnings = [entry for entry in logs if entry["event"] == "events had no subscriber"]
    assert len(warnings) == 1
    assert warnings[0]["count"] == len(nobody)
    assert warnings[0]["routing_keys"] == {"member.added": NAMED_UNROUTABLE + 5, "folder.created": 1}
    assert warnings[0]["event_ids"] == [event.event_id for event in nobody[:NAMED_UNROUTABLE]]


def test_connecting_to_nothing_fails_quickly_with_a_publish_error() -> None:
    started = time.monotonic()
    with pytest.raises(PublishError, match="connecting to RabbitMQ: connection refused: is RabbitMQ running"):
        EventPublisher("amqp://guest:guest@127.0.0.1:1/%2F", timeout=10.0)

    assert time.monotonic() - started < 10.0


def test_a_connection_closed_by_the_server_fails_the_next_publish(vhost_url: str) -> None:
    name = f"publisher-test-{uuid.uuid4().hex[:8]}"
    publisher = EventPublisher(vhost_url, name=name)
    try:
        publisher.publish([record("document.shared.viewer")])
        assert close_connections_named(name) == 1
        with pytest.raises(PublishError, match="lost"):
            _keep_alive_for(publisher, 10.0)
        with pytest.raises(PublishError):
            publisher.publish([record("document.shared.viewer")])
    finally:
        publisher.close()


def test_a_subscription_sees_only_its_patterns_and_its_queue_goes_with_it(vhost_url: str) -> None:
    with EventPublisher(vhost_url) as publisher:
        with EventSubscription(vhost_url, ["document.#"]) as tap:
            publisher.publish([record("member.added"), record("document.uploaded")])
            received = tap.collect(5.0, count=1)  # published second: had the first been routed, it came first
            received += tap.collect(0.3)
            queue = tap.queue
        connection = pika.BlockingConnection(pika.URLParameters(vhost_url))
        channel = connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
            channel.queue_declare(queue, passive=True)
        connection.close()

    assert [event.routing_key for event in received] == ["document.uploaded"]


def test_keepalive_runs_the_io_loop_only_when_nothing_ran_it_for_a_while(
    vhost_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EventPublisher(vhost_url) as publisher:
        ioloop, runs = publisher._connection.ioloop, list[float]()
        start = ioloop.start

        def counted_start() -> None:
            runs.append(time.monotonic())
            start()

        monkeypatch.setattr(ioloop, "start", counted_start)
        monkeypatch.setattr(publisher_module, "KEEPALIVE_EVERY_S", 3600.0)  # a stalled test stays "lately"
        publisher.publish([record("member.added")])
        after_publish = len(runs)
        for _ in range(5):
            publisher.keepalive()
        assert len(runs) == after_publish  # the publish just answered whatever had come in
        monkeypatch.setattr(publisher_module, "KEEPALIVE_EVERY_S", 0.0)
        publisher.keepalive()
        assert len(runs) == after_publish + 1


def _keep_alive_for(publisher: EventPublisher, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        publisher.keepalive()
        time.sleep(0.1)


def test_unroutable_events_after_the_first_warning_are_summed_and_logged_once_due(vhost_url: str) -> None:
    first, later = record("member.added"), [record("folder.created") for _ in range(3)]
    now = [0.0]  # a clock of the test's own: a slow confirm cannot make a warning due early
    warnings_every_minute = UnroutableWarnings(every_s=60.0, clock=lambda: now[0])
    with EventPublisher(vhost_url, unroutable=warnings_every_minute) as publisher, capture_logs() as logs:
        publisher.publish([first])
        publisher.publish(later[:2])
        publisher.publish(later[2:])
        before_due = [entry for entry in logs if entry["event"] == "events had no subscriber"]
        now[0] = 60.0
        publisher.keepalive()

    warnings = [entry for entry in logs if entry["event"] == "events had no subscriber"]
    assert [w["count"] for w in before_due] == [1]
    assert [(w["count"], w["routing_keys"]) for w in warnings] == [
        (1, {"member.added": 1}),
        (3, {"folder.created": 3}),
    ]
    assert warnings[1]["event_ids"] == [event.event_id for event in later]


def test_events_a_full_queue_refuses_are_returned_as_refused_the_others_confirmed(vhost_url: str) -> None:
    batch = [record("document.shared.viewer"), record("document.refused.viewer"), record("member.added")]
    with refusing_queue(vhost_url, "document.refused.*"), EventPublisher(vhost_url) as publisher:
        refused = publisher.publish(batch)
        again = publisher.publish(batch[:1])  # the channel goes on after a nack

    assert refused == {batch[1].event_id}
    assert again == set()


def test_closing_on_a_link_gone_silent_gives_up_long_before_a_confirm_would(vhost_url: str) -> None:
    parts = urlsplit(vhost_url)
    with FreezableLink((parts.hostname or "127.0.0.1", parts.port or 5672)) as link:
        credentials = parts.netloc.rpartition("@")[0]
        through_link = urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{link.port}"))
        publisher = EventPublisher(through_link, timeout=30.0)
        link.freeze()
        started = time.monotonic()
        publisher.close()
        closing = time.monotonic() - started

    assert CLOSE_TIMEOUT_S <= closing < 30.0, "closing waited for the confirms' timeout"


def test_a_server_silent_in_the_handshake_fails_the_connect_as_a_publish_error(vhost_url: str) -> None:
    """pika lets an AssertionError out of closing a connection cut mid-handshake; the caller, the relay
    or a client, must still see the PublishError it retries on."""
    parts = urlsplit(vhost_url)
    with FreezableLink((parts.hostname or "127.0.0.1", parts.port or 5672)) as link:
        link.freeze()
        credentials = parts.netloc.rpartition("@")[0]
        through_link = urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{link.port}"))
        with pytest.raises(PublishError, match="connecting to RabbitMQ"):
            EventPublisher(through_link, timeout=1.0)
