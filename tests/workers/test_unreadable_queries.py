"""On a real RabbitMQ: a query the consumer dead-letters unread is answered with its failure at once, so
that its producer is not left waiting for its own timeout."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.encoder import JSONEncoder
from dramatiq.results import ResultFailure, ResultMissing
from dramatiq.results.backends.stub import StubBackend

from workers.broker import build_broker
from workers.consumer import ScreeningConsumer
from workers.settings import Settings

pytestmark = pytest.mark.integration

QUEUE = "documents-queries"


@pytest.fixture
def backend() -> StubBackend:
    return StubBackend(encoder=JSONEncoder())  # as the workers' results backend: plain JSON


@pytest.fixture
def consumer(amqp_url: str, backend: StubBackend) -> Iterator[ScreeningConsumer]:
    settings = dataclasses.replace(Settings.from_env(), amqp_url=amqp_url)
    broker = build_broker(settings, results_backend=backend)
    broker.declare_queue(QUEUE)
    consumer = broker.consume(QUEUE, prefetch=4, timeout=50)
    assert isinstance(consumer, ScreeningConsumer)
    yield consumer
    if consumer.connection.is_open:
        consumer.close()
    broker.close()


def _publish(amqp_url: str, body: dict[str, Any]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", QUEUE, json.dumps(body).encode(), pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()


def test_an_unreadable_query_with_a_message_id_gets_its_failure_as_its_answer(
    consumer: ScreeningConsumer, amqp_url: str, backend: StubBackend
) -> None:
    message_id = str(uuid.uuid4())
    _publish(
        amqp_url,
        {
            "queue_name": QUEUE,
            "actor_name": "list_folder",
            "args": [],
            "kwargs": {"folder_id": "f", "requested_by": "alice"},
            "options": {"max_retries": 1},  # a forbidden option: the envelope is unreadable
            "message_id": message_id,
            "message_timestamp": 1714566600000,
        },
    )
    asked: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUEUE, actor_name="list_folder", args=(), kwargs={}, options={}, message_id=message_id
    )
    deadline = time.monotonic() + 20
    while not _answered(backend, asked):  # the consuming loop, as Dramatiq's consumer thread runs it
        assert time.monotonic() < deadline, "the query was never answered"
        assert next(consumer) is None

    with pytest.raises(ResultFailure, match=r"options\.max_retries: is not a field"):
        backend.get_result(asked)


def _answered(backend: StubBackend, asked: dramatiq.Message[Any]) -> bool:
    """Whether ``asked`` has an answer (StubBackend's results are shared by every instance)."""
    try:
        backend.get_result(asked)
    except ResultMissing:
        return False
    except ResultFailure:
        return True
    return True
