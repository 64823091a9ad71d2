"""The framework ceiling: a no-op actor that counts its completions with one Valkey INCR.

Loaded by ``dramatiq bench.noop``; reads AMQP_URL, VALKEY_URL and CACHE_PREFIX like the workers do, and
``BENCH_NOOP_CONSUMER``: ``coalescing`` acks as docfleet's workers do, for comparison; the ceiling the
targets are measured against is Dramatiq's own consumer.
"""

from __future__ import annotations

import os

import dramatiq
import valkey
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from bench.noop_names import ACTOR, CONSUMER_ENV, COUNTER, QUEUE
from workers.consumer import CoalescingAcksConsumer


class CoalescingAcksBroker(RabbitmqBroker):
    @property
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return CoalescingAcksConsumer


_settings = os.environ.get
broker_class = CoalescingAcksBroker if _settings(CONSUMER_ENV) == "coalescing" else RabbitmqBroker
broker = broker_class(
    url=_settings("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
    confirm_delivery=True,
    middleware=[AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries()],
)
dramatiq.set_broker(broker)
_client = valkey.Valkey.from_url(_settings("VALKEY_URL", "redis://127.0.0.1:6379/0"))
_counter = f"{_settings('CACHE_PREFIX', 'docfleet:')}{COUNTER}"


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=0)
def bench_noop() -> None:
    _client.incr(_counter)
