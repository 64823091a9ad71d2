"""The worker process's Application exists before any of its threads can take a message."""

from __future__ import annotations

import threading

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.worker import ConsumerThread, WorkerThread

from workers.bootstrap import Application
from workers.broker import build_broker
from workers.middleware import Resources
from workers.schema_gate import SCHEMA_NOT_READY
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


def test_a_worker_whose_readiness_check_ends_it_opens_nothing_and_starts_no_thread(
    application: Application,
) -> None:
    """What the schema check relies on: a SystemExit passes Dramatiq's boot hooks, which would log and
    swallow an exception, before any thread could take a message."""
    opened: list[int] = []

    def open_application(threads: int) -> Application:
        opened.append(threads)
        return application

    def not_ready() -> None:
        raise SystemExit(SCHEMA_NOT_READY)

    broker = StubBroker(middleware=[Resources(open_application, check_ready=not_ready)])
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=20, worker_threads=2)
    try:
        with pytest.raises(SystemExit) as exited:
            worker.start()
        assert exited.value.code == SCHEMA_NOT_READY
        assert opened == []
        assert not [t for t in threading.enumerate() if isinstance(t, WorkerThread | ConsumerThread)]
    finally:
        worker.stop()
        broker.close()
