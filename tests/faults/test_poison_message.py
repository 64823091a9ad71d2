"""Scenario 10: a message that kills the worker process running it, every time.

Nothing settles such a message, so Dramatiq's retries never count it: RabbitMQ delivers it again to the
restarted fleet, which it kills again. The fleet counts those deliveries and dead-letters the message
once they pass the limit; the fleet then carries on, and once the cause is gone ``docfleet dlq replay``
puts back the poison, and every command is applied once. Its neighbours, handed back with it at each kill,
run one at a time with it, and each of their turns that ends takes its count back: none goes with it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from adapters.valkey.client import connect
from adapters.valkey.redeliveries import RedeliveryCounter
from tests.cli.support import run as run_docfleet
from tests.e2e.fleet import tail
from tests.faults.conftest import Report
from tests.faults.fleet import Fleet, FleetShape
from tests.faults.harness import scenario
from tests.faults.hooks.names import CRASH_ON_MESSAGE, CRASHED
from workers.middleware.redeliveries import REDELIVERY_LIMIT
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 600
NEIGHBOURS = 40  # sent right behind the poison: each kill hands them back with it


def _crashes(fleet: Fleet, message_id: str) -> int:
    return sum(
        announced.read_text().split().count(message_id) for announced in fleet.hooks.glob(f"{CRASHED}.*")
    )


def _counted(settings: Settings, message_ids: list[str]) -> dict[str, int]:
    """The redelivery counts left in Valkey, of those not at 0."""
    with connect(settings.valkey_url) as client:
        counter = RedeliveryCounter(client, settings.cache_prefix)
        counts = {message_id: counter.counted(message_id) for message_id in message_ids}
    return {message_id: count for message_id, count in counts.items() if count}


def _wait_dead_lettered(fleet: Fleet, message_id: str, timeout: float = 300.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in fleet.outcome_lines("dead_lettered"):
            if line.get("message_id") == message_id:
                return line
        time.sleep(0.5)
    raise AssertionError(f"{message_id} was not dead-lettered:\n{tail(fleet.log)}")


def test_10_a_message_that_kills_its_worker_each_time_is_dead_lettered_and_the_fleet_goes_on(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    shape = FleetShape(processes=2, worker_hooks=("tests.faults.hooks.crash_on_message",))
    with scenario(fault_settings, tmp_path, shape) as run:
        poison = run.workload.upload(UPLOADS)  # a document of its own, past the load's
        neighbours = [run.workload.upload(UPLOADS + 1 + index) for index in range(NEIGHBOURS)]
        (run.fleet.hooks / CRASH_ON_MESSAGE).write_text(poison.message_id)
        with run.load(uploads=UPLOADS, rate=300):
            run.wait_loaded(100)
            run.producer.send([poison, *neighbours])
            line = _wait_dead_lettered(run.fleet, poison.message_id)
        crashes = _crashes(run.fleet, poison.message_id)
        listed = json.loads(run_docfleet(fault_settings, "dlq", "ls", "--json").stdout)
        (run.fleet.hooks / CRASH_ON_MESSAGE).unlink()
        # Only the poison: a neighbour held at each kill waited its turn behind it, or its turn ended.
        replay = run_docfleet(fault_settings, "dlq", "replay", poison.message_id)
        ledger = run.finish()
        acked_as_duplicates = [
            line for line in run.fleet.outcome_lines("duplicate") if "acked unrun" in str(line.get("detail"))
        ]
        still_counted = _counted(fault_settings, [command.message_id for command in neighbours])
    replayed = replay.stdout.count("\nreplayed ") + replay.stdout.startswith("replayed ")
    report_ledger(
        "10-poison-message",
        ledger,
        crashes=crashes,
        replayed=replayed,
        acked_past_limit=len(acked_as_duplicates),
    )
    assert line["reason"] == "redelivered", line
    assert crashes == REDELIVERY_LIMIT + 1, "the first delivery and each counted redelivery killed a worker"
    [told] = [item for item in listed["documents.XQ"] if item["message_id"] == poison.message_id]
    assert told["reason"].startswith(f"redelivered {REDELIVERY_LIMIT + 1} times after the worker"), told
    assert replay.exit_code == 0, replay.output
    caught_with_it = [item for item in listed["documents.XQ"] if item["message_id"] != poison.message_id]
    assert caught_with_it == [], "no neighbour goes with the poison"
    assert still_counted == {}, "each neighbour's turns ended, each taking its count back"
    assert acked_as_duplicates == [], "nor is one acked unrun past the limit"
    assert ledger.problems() == []
