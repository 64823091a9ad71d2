"""Fixtures of the CLI tests: settings on a vhost and key prefix of the test's own, the run's database,
and a docfleet worker running in this process on them when a test needs one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.supervised import Supervise, supervising
from tests.support.services import default_settings, throwaway_vhost
from workers.settings import Settings


@pytest.fixture
def vhost_url() -> Iterator[str]:
    """A vhost for this test alone: its queues start empty and nothing else reads them."""
    with throwaway_vhost(default_settings().amqp_url) as url:
        yield url


@pytest.fixture
def settings(database_url: str, valkey_url: str, key_prefix: str, vhost_url: str) -> Settings:
    base = default_settings()
    return dataclasses.replace(
        base, database_url=database_url, valkey_url=valkey_url, amqp_url=vhost_url, cache_prefix=key_prefix
    )


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[None]:
    """A docfleet worker in this process on the test's services, with short retries; its log lines go to
    ``worker.log`` in the test's directory, not to the stdout the CLI's output is read from."""
    import structlog
    from dramatiq import Worker

    from tests.workers.support import QUICK
    from workers.actors import declare_on
    from workers.broker import build_broker

    previous_logging = structlog.get_config()
    log = (tmp_path / "worker.log").open("w")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=log))
    broker = build_broker(settings)
    declare_on(broker, min_backoff=1, max_backoff=5, retry_when=QUICK)
    running = Worker(broker, worker_timeout=50, worker_threads=2)
    running.start()
    try:
        yield
    finally:
        running.stop()
        broker.close()
        structlog.configure(**previous_logging)
        log.close()


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """Starts ``docfleet supervise`` on a child with a plan (``tests.cli.supervised.CHILD``); stopped and
    killed at the end, whatever the test did."""
    with supervising(tmp_path) as start:
        yield start
