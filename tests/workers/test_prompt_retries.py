"""Retries leave their delay queue when due: the consumers wake often, the worker threads do not."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from workers.broker import build_broker
from workers.middleware.retries import PromptRetries
from workers.settings import Settings


def test_the_consumers_wake_every_100_ms_and_the_worker_threads_keep_dramatiqs_timeout() -> None:
    broker = StubBroker(middleware=[PromptRetries(wake_ms=100)])
    broker.declare_queue("documents")
    broker.declare_queue("documents.DQ")
    worker = dramatiq.Worker(broker, worker_timeout=1000, worker_threads=2)
    worker.start()
    try:
        consumer_timeouts = {name: consumer.worker_timeout for name, consumer in worker.consumers.items()}
        thread_timeouts = [thread.timeout for thread in worker.workers]
    finally:
        worker.stop()
        broker.close()

    assert consumer_timeouts == {"documents": 100, "documents.DQ": 100}
    assert thread_timeouts == [1.0, 1.0]
    assert worker.worker_timeout == 1000


def test_the_workers_broker_has_it() -> None:
    broker = build_broker(Settings.from_env(), stub=True)
    try:
        assert [type(m) for m in broker.middleware if isinstance(m, PromptRetries)] == [PromptRetries]
    finally:
        broker.close()
