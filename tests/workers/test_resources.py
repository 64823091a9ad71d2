"""The worker process's Application exists before any of its threads can take a message."""

from __future__ import annotations

import threading

from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.worker import ConsumerThread, WorkerThread

from workers.bootstrap import Application
from workers.broker import build_broker
from workers.settings import Settings


def test_the_application_opens_before_the_worker_starts_its_threads(application: Application) -> None:
    threads_at_each_open: list[list[str]] = []

    def open_application(_threads: int) -> Application:
        threads_at_each_open.append(
            [
                type(thread).__name__
                for thread in threading.enumerate()
                if isinstance(thread, WorkerThread | ConsumerThread)
            ]
        )
        return application

    broker = build_broker(Settings.from_env(), stub=True, open_application=open_application)
    assert isinstance(broker, StubBroker)
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=20, worker_threads=2)
    worker.start()
    try:
        # Opened once, at boot, with no worker or consumer thread running yet.
        assert threads_at_each_open == [[]], "a thread could take a message before the Application existed"
    finally:
        worker.stop()
        broker.close()
