"""A producer given RabbitMQ's write permission alone, as docs/contract.md §2 advises, sends commands
through the client's publisher: declaring the queues it may not configure, it checks they exist. A
client allowed queries alone publishes through an exchange of its own, as §1 ("Who may publish") says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pika
import pytest

from adapters.rabbitmq.queue_publisher import OutgoingMessage, PublishError, QueuePublisher
from tests.support.services import default_settings, throwaway_vhost, unique_name, user_permitted
from workers.client.envelopes import contract_queues
from workers.contract import COMMANDS_QUEUE, QUERIES_QUEUE

pytestmark = pytest.mark.integration

WRITE_ONLY = r"^(amq\.default|documents|documents-queries)$"
QUERIES_EXCHANGE = "docfleet.queries"  # the name §1's recipe gives


@pytest.fixture
def vhost_url() -> Iterator[str]:
    with throwaway_vhost(default_settings().amqp_url) as url:
        yield url


def _user_writing(vhost_url: str, exchanges: str) -> AbstractContextManager[str]:
    """``vhost_url`` as a user who may write to ``exchanges`` (a RabbitMQ permission pattern) alone."""
    return user_permitted(vhost_url, "^$", exchanges, "^$", prefix="producer")


@pytest.fixture
def producer_url(vhost_url: str) -> Iterator[str]:
    """``vhost_url`` as a user who may write to the command queues and do nothing else."""
    with _user_writing(vhost_url, WRITE_ONLY) as url:
        yield url


def _message() -> OutgoingMessage:
    return OutgoingMessage(COMMANDS_QUEUE, unique_name("m"), b"{}")


def test_a_write_only_producer_sends_once_the_queues_exist(vhost_url: str, producer_url: str) -> None:
    with QueuePublisher(vhost_url, declare=contract_queues()):
        pass  # as the workers do when they start
    sent = _message()
    with QueuePublisher(producer_url, declare=contract_queues()) as publisher:
        assert publisher.publish([sent]) == []

    connection = pika.BlockingConnection(pika.URLParameters(vhost_url))
    try:
        method, properties, _body = connection.channel().basic_get(COMMANDS_QUEUE, auto_ack=True)
    finally:
        connection.close()
    assert method is not None
    assert properties.message_id == sent.message_id


def test_a_write_only_producer_is_told_when_the_queues_do_not_exist(producer_url: str) -> None:
    with pytest.raises(PublishError, match=r"declaring the contract's queues:.*NOT_FOUND"):
        QueuePublisher(producer_url, declare=contract_queues(), timeout=10.0)


def _publish(url: str, exchange: str, routing_key: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, b"{}", mandatory=True)
    finally:
        if connection.is_open:
            connection.close()


def test_a_client_allowed_its_own_exchange_alone_sends_queries_and_no_command(vhost_url: str) -> None:
    """The default exchange reaches every queue, so a user who may write to it may send commands too; one
    who may write only to an exchange bound to documents-queries reaches that queue alone."""
    with QueuePublisher(vhost_url, declare=contract_queues()):
        pass  # as the workers do when they start
    admin = pika.BlockingConnection(pika.URLParameters(vhost_url))
    try:
        channel = admin.channel()
        channel.exchange_declare(QUERIES_EXCHANGE, "direct", durable=True)
        channel.queue_bind(QUERIES_QUEUE, QUERIES_EXCHANGE, routing_key=QUERIES_QUEUE)

        with _user_writing(vhost_url, rf"^{re.escape(QUERIES_EXCHANGE)}$") as queries_only:
            _publish(queries_only, QUERIES_EXCHANGE, QUERIES_QUEUE)
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
                _publish(queries_only, "", COMMANDS_QUEUE)
            with pytest.raises(pika.exceptions.UnroutableError):
                _publish(queries_only, QUERIES_EXCHANGE, COMMANDS_QUEUE)  # bound to the queries' queue alone

        method, _properties, _body = channel.basic_get(QUERIES_QUEUE, auto_ack=True)
        assert method is not None, "the query reached its queue"
        assert channel.queue_declare(COMMANDS_QUEUE, passive=True).method.message_count == 0
    finally:
        admin.close()
