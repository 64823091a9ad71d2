"""On a real RabbitMQ: what a plain AMQP producer publishes is applied, or dead-lettered with a reason.

The producer here is plain pika, doing exactly what docs/contract.md tells a Go or Java engineer to do.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from threading import Event
from typing import Any

import pika
import pytest
from dramatiq import Worker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.results.backends.stub import StubBackend
from structlog.testing import capture_logs

from domain.events import CommandRejected
from tests.unit.fakes import FakeDatabase
from tests.workers.support import QUICK
from workers.actors import declare_on
from workers.bootstrap import Application
from workers.broker import build_broker
from workers.middleware import Resources
from workers.settings import Settings

pytestmark = pytest.mark.integration

DEAD_LETTER_ARGUMENTS = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "documents.XQ"}


@pytest.fixture
def channel(amqp_url: str, application: Application) -> Iterator[Any]:
    """A worker consuming the throwaway vhost, and a producer's channel on it."""
    broker = _workers_broker(amqp_url, application)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        producer = connection.channel()
        producer.confirm_delivery()
        # Declared as the contract says, the queue matches Dramatiq's: no PRECONDITION_FAILED.
        producer.queue_declare("documents", durable=True, arguments=DEAD_LETTER_ARGUMENTS)
        producer.queue_declare("documents.XQ", durable=True, arguments={"x-message-ttl": 604_800_000})
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        try:
            yield producer
        finally:
            worker.stop()
    finally:
        connection.close()
        broker.close()


def _workers_broker(amqp_url: str, application: Application) -> RabbitmqBroker:
    """The workers' broker on the throwaway vhost, its actors declared and ``documents`` with them."""
    settings = dataclasses.replace(Settings.from_env(), amqp_url=amqp_url)
    backend = StubBackend(encoder=JSONEncoder())
    broker = build_broker(settings, open_application=lambda _: application, results_backend=backend)
    declare_on(broker, min_backoff=1, max_backoff=5, retry_when=QUICK)
    assert isinstance(broker, RabbitmqBroker)
    broker.declare_queue("documents", ensure=True)
    return broker


def envelope(actor_name: str, kwargs: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "queue_name": "documents",
        "actor_name": actor_name,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
        **changes,
    }


def publish(channel: Any, body: bytes, message_id: str | None = None) -> None:
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=message_id)
    channel.basic_publish(
        exchange="", routing_key="documents", body=body, properties=properties, mandatory=True
    )


def dead_letters(channel: Any, expected: int) -> list[bytes]:
    deadline = time.monotonic() + 20
    while channel.queue_declare("documents.XQ", passive=True).method.message_count < expected:
        assert time.monotonic() < deadline, "the dead letters did not arrive"
        time.sleep(0.05)
    bodies = []
    while (delivery := channel.basic_get("documents.XQ", auto_ack=True))[0] is not None:
        bodies.append(delivery[2])
    return bodies


def test_a_plain_amqp_producer_gets_applied_or_dead_lettered(channel: Any, db: FakeDatabase) -> None:
    applied = envelope("add_member", {"org_id": "acme", "user_id": "dave"})
    unknown = envelope("delete_everything", {"org_id": "acme"})
    invalid = envelope("add_member", {"org_id": "acme", "user_id": 7})
    misrouted = envelope(
        "list_folder", {"folder_id": "f", "requested_by": "u"}, queue_name="documents-queries"
    )
    forbidden_option = envelope("add_member", {"org_id": "acme", "user_id": "eve"}, options={"throws": 1})
    rejected_bodies = [json.dumps(m).encode() for m in (unknown, invalid, misrouted, forbidden_option)]
    rejected_bodies.append(b"\x00not json")
    traced = "7d4f0d1e-5b8a-4c1e-9f0e-2a6b3c4d5e6f"  # the unreadable body's AMQP message_id property

    with capture_logs() as logs:
        publish(channel, json.dumps(applied).encode())
        for body in rejected_bodies:
            publish(channel, body, traced if body == rejected_bodies[-1] else "other-than-the-body-s-id")
        dead = dead_letters(channel, expected=len(rejected_bodies))
        # An unknown actor's message is dead-lettered by the consumer's thread, and its rejection
        # recorded after, on the rejections thread.
        deadline = time.monotonic() + 20
        while len(db.events_of(CommandRejected)) < 3:
            assert time.monotonic() < deadline, "the rejections were not all recorded"
            time.sleep(0.02)

    assert sorted(dead) == sorted(rejected_bodies)
    assert "dave" in db.members["acme"]
    assert "eve" not in db.members["acme"]
    rejected = {event.message_id: event for event in db.events_of(CommandRejected)}
    # A command whose envelope still names its message id and actor is rejected like an invalid one;
    # a query (the misrouted list_folder) is answered with its failure instead, and an unreadable body
    # gets nothing.
    assert set(rejected) == {unknown["message_id"], invalid["message_id"], forbidden_option["message_id"]}
    assert rejected[unknown["message_id"]].actor == "delete_everything"
    assert rejected[forbidden_option["message_id"]].reason == "invalid"
    assert "options" in rejected[forbidden_option["message_id"]].detail
    assert rejected[invalid["message_id"]].detail == "user_id: input should be a valid string, not a number"
    unreadable = [line for line in logs if line.get("event") == "unreadable message dead-lettered"]
    assert {line["message_id"] for line in unreadable} == {
        misrouted["message_id"],
        forbidden_option["message_id"],
        None,
    }
    assert {line["message_id"]: line.get("amqp_message_id") for line in unreadable} == {
        misrouted["message_id"]: None,  # its body names its id: the property is not read
        forbidden_option["message_id"]: None,
        None: traced,
    }
    rejections = {line["message_id"]: line["rejection"] for line in unreadable}
    assert rejections == {
        misrouted["message_id"]: "answered",
        forbidden_option["message_id"]: "recorded",
        None: None,
    }


def _held_rejections(application: Application, monkeypatch: pytest.MonkeyPatch) -> tuple[Event, Event]:
    """The application's rejections wait until released: (one is held, release them)."""
    held, released = threading.Event(), threading.Event()
    record = application.reject

    def held_until_released(*args: Any, **kwargs: Any) -> str:
        held.set()
        assert released.wait(20), "the test never released the rejection"
        return record(*args, **kwargs)

    monkeypatch.setattr(application, "reject", held_until_released)
    return held, released


@pytest.mark.parametrize(
    "rejected",
    [
        envelope("add_member", {"org_id": "acme", "user_id": "eve"}, options={"throws": 1}),
        envelope("delete_everything", {"org_id": "acme"}),
    ],
    ids=["unreadable", "unknown actor"],
)
def test_a_rejection_being_recorded_holds_back_no_other_message(
    channel: Any,
    db: FakeDatabase,
    application: Application,
    monkeypatch: pytest.MonkeyPatch,
    rejected: dict[str, Any],
) -> None:
    """Recording a rejection may wait on Postgres; the consumer's thread, which also sends every ack and
    heartbeat, does not wait with it: the next message is applied while the rejection is held, and the
    rejected one is dead-lettered only once its rejection is recorded."""
    held, released = _held_rejections(application, monkeypatch)
    publish(channel, json.dumps(rejected).encode())
    assert held.wait(20), "the message was never rejected"
    publish(channel, json.dumps(envelope("add_member", {"org_id": "acme", "user_id": "dave"})).encode())

    deadline = time.monotonic() + 20
    while "dave" not in db.members.get("acme", set()):
        assert time.monotonic() < deadline, "the next message waited for the rejection"
        time.sleep(0.02)
    assert channel.queue_declare("documents.XQ", passive=True).method.message_count == 0
    released.set()

    assert dead_letters(channel, expected=1) == [json.dumps(rejected).encode()]
    assert [event.message_id for event in db.events_of(CommandRejected)] == [rejected["message_id"]]


def test_a_closing_consumer_lets_the_dead_letters_in_hand_leave_first(
    amqp_url: str, db: FakeDatabase, application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed while a rejection is held, the consumer waits for it, and its nack leaves before the
    connection closes: the message is dead-lettered, not delivered again with its line told twice."""
    broker = _workers_broker(amqp_url, application)
    [resources] = [m for m in broker.middleware if isinstance(m, Resources)]
    resources.before_worker_boot(broker, Worker(broker, worker_threads=1))  # as a booting worker does
    held, released = _held_rejections(application, monkeypatch)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        producer = connection.channel()
        producer.confirm_delivery()
        rejected = envelope("add_member", {"org_id": "acme", "user_id": "eve"}, options={"throws": 1})
        publish(producer, json.dumps(rejected).encode())
        consumer = broker.consume("documents", prefetch=4, timeout=50)
        deadline = time.monotonic() + 20
        while not held.wait(0.01):
            assert time.monotonic() < deadline, "the message was never rejected"
            assert next(consumer) is None
        closing = threading.Thread(target=consumer.close)
        closing.start()
        time.sleep(0.2)  # a consumer that did not wait would have closed its connection by now
        released.set()
        closing.join(20)

        assert dead_letters(producer, expected=1) == [json.dumps(rejected).encode()]
        assert producer.queue_declare("documents", passive=True).method.message_count == 0
    finally:
        released.set()
        connection.close()
        broker.close()
