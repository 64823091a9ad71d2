"""On a real RabbitMQ: the worker's consumer acks what its threads finished, in one callback per flush."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.results.backends.stub import StubBackend

from adapters.rabbitmq.vectored_writes import produce_together
from workers.broker import build_broker
from workers.consumer import ScreeningConsumer
from workers.settings import Settings
from workers.settlement import was_sent

pytestmark = pytest.mark.integration

QUEUE = "documents"
PUBLISHED = 40


@pytest.fixture
def consumer(amqp_url: str) -> Iterator[ScreeningConsumer]:
    """A consumer on a freshly filled ``documents`` queue of the throwaway vhost."""
    settings = dataclasses.replace(Settings.from_env(), amqp_url=amqp_url)
    broker = build_broker(settings, results_backend=StubBackend())
    broker.declare_queue(QUEUE)
    consumer = broker.consume(QUEUE, prefetch=PUBLISHED, timeout=50)  # declares the queues
    _fill(amqp_url, PUBLISHED)
    assert isinstance(consumer, ScreeningConsumer)
    yield consumer
    if consumer.connection.is_open:
        _close(consumer)
    broker.close()


def _fill(amqp_url: str, count: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for _ in range(count):
            message: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=QUEUE, actor_name="add_member", args=(), kwargs={}, options={}
            )
            channel.basic_publish("", QUEUE, message.encode(), pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()


def _queue_counts(amqp_url: str) -> int:
    """Messages still in the queue once every connection to it closed: those never acked come back."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(QUEUE, passive=True).method.message_count)
    finally:
        connection.close()


def _close(consumer: ScreeningConsumer) -> None:
    """Dramatiq's close: it first waits for the callbacks already handed to the connection."""
    consumer.close()


def _ack_all(consumer: ScreeningConsumer, messages: list[Any]) -> None:
    for message in messages:
        consumer.ack(message)


def _receive(consumer: ScreeningConsumer, count: int) -> list[Any]:
    received: list[Any] = []
    while len(received) < count:
        message = next(consumer)
        if message is not None:
            received.append(message)
    return received


def _pump(consumer: ScreeningConsumer, times: int = 5) -> None:
    """Runs the consuming loop as Dramatiq's consumer thread does: callbacks run, output is written."""
    for _ in range(times):
        assert next(consumer) is None


def test_acks_from_many_threads_all_reach_rabbitmq(consumer: ScreeningConsumer, amqp_url: str) -> None:
    messages = _receive(consumer, PUBLISHED)
    threads = [threading.Thread(target=_ack_all, args=(consumer, messages[i::4])) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _pump(consumer)
    _close(consumer)

    assert _queue_counts(amqp_url) == 0


def test_acks_finished_before_the_loop_runs_are_sent_by_one_callback(
    consumer: ScreeningConsumer, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = _receive(consumer, PUBLISHED)
    scheduled: list[Any] = []
    schedule = consumer.connection.add_callback_threadsafe

    def counted(callback: Any) -> None:
        scheduled.append(callback)
        schedule(callback)

    monkeypatch.setattr(consumer.connection, "add_callback_threadsafe", counted)
    _ack_all(consumer, messages[:30])
    _pump(consumer)
    assert len(scheduled) == 1
    _close(consumer)

    assert _queue_counts(amqp_url) == PUBLISHED - 30  # the ten never acked came back


class _Interrupted(BaseException):
    """As a time limit raises in a worker thread, at any instruction."""


def test_an_ack_interrupted_before_its_flush_was_handed_over_does_not_stall_the_next_ones(
    consumer: ScreeningConsumer, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = _receive(consumer, PUBLISHED)
    schedule = consumer.connection.add_callback_threadsafe
    calls: list[Any] = []

    def interrupted_once(callback: Any) -> None:
        calls.append(callback)
        if len(calls) == 1:
            raise _Interrupted
        schedule(callback)

    monkeypatch.setattr(consumer.connection, "add_callback_threadsafe", interrupted_once)
    with pytest.raises(_Interrupted):
        consumer.ack(messages[0])
    _ack_all(consumer, messages[1:])
    _pump(consumer)
    assert len(calls) == 2, "the next ack handed a flush over"
    _close(consumer)

    assert _queue_counts(amqp_url) == 0, "the interrupted ack went with the others"


def test_a_nack_among_acks_is_not_swept_up_by_them(consumer: ScreeningConsumer, amqp_url: str) -> None:
    messages = _receive(consumer, PUBLISHED)
    consumer.nack(messages[0])
    _ack_all(consumer, messages[1:])
    assert all(was_sent(message) for message in messages)
    _pump(consumer)
    _close(consumer)

    assert _queue_counts(amqp_url) == 0
    assert _dead_letters(amqp_url) == 1


def test_a_message_of_a_lost_connection_is_not_settled_on_the_next_one(
    consumer: ScreeningConsumer, amqp_url: str
) -> None:
    """Dramatiq settles a message on the consumer its thread has when the work ends: after a
    reconnection, a new one, whose deliveries reuse the old ones' tags for other messages."""
    before = _receive(consumer, 2)  # tags 1 and 2 on the first connection
    _close(consumer)  # the connection is lost: both go back to the queue
    after = consumer.broker.consume(QUEUE, prefetch=PUBLISHED, timeout=50)
    assert isinstance(after, ScreeningConsumer)
    redelivered = _receive(after, PUBLISHED)
    assert {message._tag for message in before} <= {message._tag for message in redelivered}

    after.ack(before[0])
    after.nack(before[1])
    assert [was_sent(message) for message in before] == [False, False], "the hooks after them must know"
    _pump(after)
    _close(after)

    assert _queue_counts(amqp_url) == PUBLISHED, "a message delivered on the new connection was settled"
    assert _dead_letters(amqp_url) == 0


def _dead_letters(amqp_url: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(f"{QUEUE}.XQ", passive=True).method.message_count)
    finally:
        connection.close()


def test_the_consumer_writes_what_it_buffered_together(consumer: ScreeningConsumer) -> None:
    transport = consumer.connection._impl._transport
    assert transport._produce.__func__ is produce_together
