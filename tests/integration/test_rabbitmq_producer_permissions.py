"""A producer given RabbitMQ's write permission alone, as docs/contract.md §2 advises, sends commands
through the client's publisher: declaring the queues it may not configure, it checks they exist."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest

from adapters.rabbitmq.queue_publisher import OutgoingMessage, PublishError, QueuePublisher
from tests.support.services import default_settings, rabbitmqctl, throwaway_vhost, unique_name
from workers.client.envelopes import contract_queues
from workers.contract import COMMANDS_QUEUE

pytestmark = pytest.mark.integration

WRITE_ONLY = r"^(amq\.default|documents|documents-queries)$"


@pytest.fixture
def vhost_url() -> Iterator[str]:
    with throwaway_vhost(default_settings().amqp_url) as url:
        yield url


@pytest.fixture
def producer_url(vhost_url: str) -> Iterator[str]:
    """``vhost_url`` as a user who may write to the command queues and do nothing else."""
    user, password, vhost = unique_name("producer"), "secret", urlsplit(vhost_url).path.lstrip("/")
    rabbitmqctl("add_user", user, password)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, "^$", WRITE_ONLY, "^$")
        parts = urlsplit(vhost_url)
        yield urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port or 5672}"))
    finally:
        rabbitmqctl("delete_user", user)


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
