"""On a real RabbitMQ: retries leave their delay queue when due, as the delay queues' consumers wake
every 100 ms; the other consumers wait for deliveries on Dramatiq's timeout."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from dramatiq.results.backends.stub import StubBackend
from pika.adapters.blocking_connection import BlockingChannel

from workers.broker import build_broker
from workers.consumer import DELAY_QUEUE_WAKE_MS, ScreeningConsumer
from workers.settings import Settings

pytestmark = pytest.mark.integration


def test_the_delay_queues_consumer_wakes_every_100_ms_and_the_others_keep_dramatiqs_timeout(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: dict[str, float] = {}
    consume = BlockingChannel.consume

    def recording(channel: BlockingChannel, queue: str, *args: Any, **kwargs: Any) -> Any:
        waits[queue] = kwargs["inactivity_timeout"]
        return consume(channel, queue, *args, **kwargs)

    monkeypatch.setattr(BlockingChannel, "consume", recording)
    broker = build_broker(
        dataclasses.replace(Settings.from_env(), amqp_url=amqp_url), results_backend=StubBackend()
    )
    try:
        broker.declare_queue("documents")
        consumers = [
            broker.consume(queue, prefetch=1, timeout=1000) for queue in ("documents", "documents.DQ")
        ]
        for consumer in consumers:
            assert isinstance(consumer, ScreeningConsumer)
            consumer.close()
    finally:
        broker.close()

    assert DELAY_QUEUE_WAKE_MS == 100
    assert waits == {"documents": 1.0, "documents.DQ": 0.1}
