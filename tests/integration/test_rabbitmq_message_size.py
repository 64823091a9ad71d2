"""The compose file's RabbitMQ settings, on a RabbitMQ node of the test's own: a body a worker would not
read is refused at the publish, and one at a command's limit goes through."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pika.exceptions
import pytest
import yaml

from tests.faults.rabbit_node import PrivateNode, private_rabbitmq
from tests.test_deployment_files import ROOT, rabbitmq_limits
from workers.contract import MAX_MESSAGE_BYTES
from workers.middleware.envelope import READ_LIMIT_BYTES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node() -> Iterator[PrivateNode]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    with private_rabbitmq(config=rabbitmq_limits(compose)) as node:
        yield node


def _publish(node: PrivateNode, size: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(node.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare("sized")
        channel.basic_publish("", "sized", b"x" * size)
    finally:
        if connection.is_open:
            connection.close()


def test_a_body_a_worker_would_read_is_accepted(node: PrivateNode) -> None:
    _publish(node, MAX_MESSAGE_BYTES)
    _publish(node, READ_LIMIT_BYTES)


def test_a_body_over_what_a_worker_reads_is_refused_at_the_publish(node: PrivateNode) -> None:
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        _publish(node, READ_LIMIT_BYTES + 1)
    assert refused.value.reply_code == 406
    assert "larger than configured max size" in refused.value.reply_text
