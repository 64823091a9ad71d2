"""A docfleet worker on a StubBroker, as Dramatiq's testing guide sets one up, around a given Application."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.results.backend import ResultBackend
from dramatiq.results.backends.stub import StubBackend

from workers.actors import declare_on
from workers.bootstrap import Application
from workers.broker import build_broker, results_backend_for
from workers.contract import COMMANDS_QUEUE, QUERIES_QUEUE
from workers.middleware import RetryPolicy
from workers.settings import Settings

QUICK = RetryPolicy(not_found_retries=3, fault_retries=2)
"""Short retries for tests: min_backoff 1 ms, max_backoff 5 ms."""


class Fleet:
    """A StubBroker with docfleet's middleware and actors, and a Worker consuming both queues."""

    def __init__(self, broker: StubBroker, backend: ResultBackend) -> None:
        self.broker = broker
        self.backend = backend
        self.actors = declare_on(broker, min_backoff=1, max_backoff=5, retry_when=QUICK)

    def send(self, actor_name: str, /, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        return self.broker.enqueue(self.message(actor_name, *args, **kwargs))

    def message(self, actor_name: str, /, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        queue = QUERIES_QUEUE if actor_name == "list_folder" else COMMANDS_QUEUE
        return dramatiq.Message(queue_name=queue, actor_name=actor_name, args=args, kwargs=kwargs, options={})

    def settle(self) -> None:
        """Waits until every message, retries included, is acked or dead-lettered."""
        for queue in (COMMANDS_QUEUE, QUERIES_QUEUE):
            self.broker.join(queue, fail_fast=False, timeout=20_000)

    def dead_letters(self, queue: str = COMMANDS_QUEUE) -> list[dramatiq.MessageProxy]:
        return list(self.broker.dead_letters_by_queue[queue])

    def result(self, message: dramatiq.Message[Any]) -> Any:
        return message.get_result(backend=self.backend, block=True, timeout=5_000)


@contextmanager
def running_fleet(
    application: Application, *, backend: ResultBackend | None = None, threads: int = 1
) -> Iterator[Fleet]:
    backend = backend or StubBackend(encoder=JSONEncoder())
    broker = build_broker(
        Settings.from_env(), stub=True, open_application=lambda _: application, results_backend=backend
    )
    assert isinstance(broker, StubBroker)
    fleet = Fleet(broker, backend)
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=20, worker_threads=threads)
    worker.start()
    try:
        yield fleet
    finally:
        worker.stop()
        broker.close()


def wired_settings(database_url: str, valkey_url: str, key_prefix: str) -> Settings:
    """The environment's settings, pointed at the test's database and Valkey key prefix."""
    return dataclasses.replace(
        Settings.from_env(), database_url=database_url, valkey_url=valkey_url, cache_prefix=key_prefix
    )


@contextmanager
def wired_fleet(settings: Settings, *, threads: int) -> Iterator[Fleet]:
    """A fleet over the Application ``from_settings`` builds (real Postgres and Valkey), results in Valkey;
    the worker closes the Application when it stops."""
    application = Application.from_settings(settings, threads=threads)
    with running_fleet(application, backend=results_backend_for(settings), threads=threads) as fleet:
        yield fleet


def new_message_id() -> str:
    return str(uuid.uuid4())
