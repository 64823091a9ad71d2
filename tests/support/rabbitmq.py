"""RabbitMQ probes shared by the tests that wait on a consumer."""

from __future__ import annotations

import pika
import pika.exceptions

from workers.contract import COMMANDS_QUEUE, QUERIES_QUEUE


def consumer_count(amqp_url: str, queue: str) -> int:
    """The queue's consumer count; 0 while the queue does not exist or RabbitMQ does not answer."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except pika.exceptions.AMQPError:
        return 0
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        if connection.is_open:
            connection.close()


def queue_depth(amqp_url: str, queue: str) -> int:
    """Messages ready in the queue (not those delivered and not yet acked)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def delete_contract_queues(amqp_url: str) -> None:
    """Deletes the contract's queues and their delay and dead-letter queues, with whatever they hold;
    RabbitMQ answers a delete of a queue that does not exist as done."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for queue in (COMMANDS_QUEUE, QUERIES_QUEUE):
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                channel.queue_delete(name)
    finally:
        connection.close()
