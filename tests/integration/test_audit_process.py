"""``docfleet audit`` as a process: its metrics over HTTP, SIGTERM, and a restart that sees events again."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters.postgres.engine import create_engine
from tests.integration.test_audit_support import (
    audit_settings,
    delete_queues,
    event_body,
    publish,
    publish_events,
    row_counts,
    scrape_audit,
)
from tests.support.processes import free_port
from tests.support.rabbitmq import consumer_count, queue_depth
from tests.support.waiting import wait_for
from workers.audit_wire import dead_letter_queue
from workers.schema_gate import NOT_MIGRATED
from workers.settings import Settings

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
STOP_WITHIN_S = 15.0


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "AUDIT_QUEUE": settings.audit_queue,
        "METRICS_ENABLED": "true",
        "AUDIT_METRICS_PORT": str(settings.audit_metrics_port),
        "LOG_LEVEL": "INFO",
    }


@contextmanager
def audit_process(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``docfleet audit``, consuming; killed at exit if the test did not stop it."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(BIN / "docfleet"), "audit"], env=_environment(settings), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(
            lambda: process.poll() is not None or consumer_count(settings.amqp_url, settings.audit_queue) > 0
        )
        assert process.poll() is None, log_path.read_text()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(STOP_WITHIN_S)


EVENT_COUNTERS = (
    "docfleet_audit_events_recorded_total",
    "docfleet_audit_duplicates_skipped_total",
    "docfleet_audit_dead_lettered_total",
)


def _scrape(port: int) -> dict[str, float]:
    """The counters of events."""
    return {name: value for name, value in scrape_audit(port).items() if name in EVENT_COUNTERS}


@pytest.fixture
def settings(database_url: str, amqp_url: str) -> Iterator[Settings]:
    settings = audit_settings(database_url, amqp_url, metrics_port=free_port())
    yield settings
    delete_queues(amqp_url, settings)


def test_it_counts_on_its_metrics_port_stops_on_sigterm_and_after_a_restart_writes_nothing_twice(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    bodies = [event_body() for _ in range(3)]
    ids = [body["event_id"] for body in bodies]
    engine = create_engine(database_url, pool_size=1)
    try:
        with audit_process(settings, tmp_path / "audit.log") as process:
            publish_events(settings.amqp_url, [*bodies, bodies[0]])
            publish(settings.amqp_url, [("member.added", b"{not json")])
            wait_for(lambda: queue_depth(settings.amqp_url, dead_letter_queue(settings.audit_queue)) == 1)
            wait_for(
                lambda: sum(_scrape(settings.audit_metrics_port).values()) >= 5, what="5 deliveries counted"
            )
            metrics = _scrape(settings.audit_metrics_port)
            state = scrape_audit(settings.audit_metrics_port)
            assert _stop(process) == 0
        assert (state["docfleet_audit_consuming"], state["docfleet_audit_reconnects_total"]) == (1.0, 0.0)
        assert row_counts(engine, ids) == dict.fromkeys(ids, 1)
        assert metrics == {
            "docfleet_audit_events_recorded_total": 3.0,
            "docfleet_audit_duplicates_skipped_total": 1.0,
            "docfleet_audit_dead_lettered_total": 1.0,
        }
        newcomer = event_body()
        with audit_process(settings, tmp_path / "audit.log") as process:
            publish_events(settings.amqp_url, [*bodies, newcomer])  # the same events again, and a new one
            wait_for(lambda: row_counts(engine, [newcomer["event_id"]])[newcomer["event_id"]] == 1)
            wait_for(lambda: queue_depth(settings.amqp_url, settings.audit_queue) == 0)
            assert _stop(process) == 0
        assert row_counts(engine, [*ids, newcomer["event_id"]]) == dict.fromkeys(
            [*ids, newcomer["event_id"]], 1
        )
    finally:
        engine.dispose()
    log_lines = [
        json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines() if line[:1] == "{"
    ]
    assert sum(line["event"] == "audit consumer stopped" for line in log_lines) == 2
    assert sum(line["event"] == "malformed event dead-lettered" for line in log_lines) == 1


def test_on_a_database_without_the_schema_it_exits_75_saying_so_before_consuming(
    settings: Settings, tmp_path: Path
) -> None:
    """As a worker does: not connected and waiting for a first event that would meet no audit_log."""
    from tests.support.services import throwaway_database

    with throwaway_database(settings.database_url) as empty:
        unmigrated = dataclasses.replace(settings, database_url=empty)
        finished = subprocess.run(
            [str(BIN / "docfleet"), "audit"], env=_environment(unmigrated), capture_output=True, timeout=60
        )

    lines = [json.loads(line) for line in finished.stderr.decode().splitlines()]
    assert finished.returncode == 75, finished.stdout.decode() + finished.stderr.decode()
    assert [(line["logger"], line["event"]) for line in lines] == [("docfleet.audit", NOT_MIGRATED)]
    assert consumer_count(settings.amqp_url, settings.audit_queue) == 0
