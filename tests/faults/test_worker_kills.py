"""Scenarios 1, 2 and 9: a worker process SIGKILLed inside its transactions, and after commit before ack;
a stray SIGTERM to one worker process.

Dramatiq's main process exits when one of its worker processes dies; ``docfleet supervise`` (the Procfile)
starts it again, and the fleet converges: what the killed process had not acked is delivered again.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.fleet import tail
from tests.faults.conftest import Report
from tests.faults.fleet import Fleet, FleetShape
from tests.faults.harness import scenario
from tests.faults.hooks.names import HELD, HOLD_BEFORE_ACK
from tests.faults.ledger_queries import rows
from tests.faults.procs import kill, local_tcp_ports
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000
OPEN_TRANSACTIONS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND xact_start IS NOT NULL AND client_port = ANY(%s)
"""


def _open_transactions(settings: Settings, pid: int) -> int:
    return int(rows(settings.database_url, OPEN_TRANSACTIONS, sorted(local_tcp_ports(pid)))[0][0])


def _kill_inside_transactions(fleet: Fleet, victim: int, timeout: float = 30.0) -> int:
    """SIGKILLs ``victim`` as soon as it has a transaction open; how many it had."""
    deadline = time.monotonic() + timeout
    while (open_now := _open_transactions(fleet.settings, victim)) == 0:
        assert time.monotonic() < deadline, "the worker process never had a transaction open"
    kill(victim)
    return open_now


def _wait_restarted(
    fleet: Fleet, before: list[int], timeout: float = 90.0, line: str = "supervised command failed"
) -> None:
    """Until a new set of worker processes runs and consumes, as the supervisor restarted Dramatiq."""
    deadline = time.monotonic() + timeout
    while not (set(fleet.worker_processes()).isdisjoint(before) and line in fleet.log_text()):
        assert time.monotonic() < deadline, f"the worker was not restarted:\n{tail(fleet.log)}"
        time.sleep(0.2)
    fleet.wait_ready()


def test_1_sigkill_a_worker_process_inside_its_transactions(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    with scenario(fault_settings, tmp_path, FleetShape(processes=2)) as run:
        with run.load(uploads=UPLOADS, rate=300) as load:
            run.wait_loaded(200)
            before = run.fleet.worker_processes()
            open_at_kill = _kill_inside_transactions(run.fleet, before[0])
            _wait_restarted(run.fleet, before)
        ledger = run.finish()
    report_ledger("1-sigkill-in-transaction", ledger, transactions_open_at_kill=open_at_kill, restarted=True)
    assert open_at_kill > 0
    assert load.sent == UPLOADS
    assert ledger.problems() == []


def _held_by(fleet: Fleet, minimum: int, timeout: float = 30.0) -> tuple[int, list[str]]:
    """The first worker process holding at least ``minimum`` committed messages, and their ids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for announced in fleet.hooks.glob(f"{HELD}.*"):
            held = announced.read_text().split()
            if len(held) >= minimum:
                return int(announced.suffix[1:]), held
        time.sleep(0.05)
    raise AssertionError(f"no worker process held {minimum} messages before their ack:\n{tail(fleet.log)}")


def _deduplicated(fleet: Fleet, message_ids: list[str]) -> int:
    """How many of the messages the fleet found already applied when they came again."""
    found = {line["message_id"] for line in fleet.outcome_lines("duplicate")}
    return sum(message_id in found for message_id in message_ids)


def test_2_sigkill_a_worker_process_after_commit_before_ack(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    shape = FleetShape(processes=2, worker_hooks=("tests.faults.hooks.hold_before_ack",))
    with scenario(fault_settings, tmp_path, shape) as run:
        with run.load(uploads=UPLOADS, rate=300):
            run.wait_loaded(200)
            before = run.fleet.worker_processes()
            trigger = run.fleet.hooks / HOLD_BEFORE_ACK
            trigger.touch()
            victim, held = _held_by(run.fleet, minimum=shape.threads)
            kill(victim)
            trigger.unlink()
            _wait_restarted(run.fleet, before)
        ledger = run.finish()
        deduplicated = _deduplicated(run.fleet, held)
    report_ledger(
        "2-sigkill-after-commit", ledger, committed_unacked_at_kill=len(held), deduplicated=deduplicated
    )
    assert deduplicated == len(held), "every message committed before the kill came again and was a duplicate"
    assert ledger.problems() == []


def test_9_a_stray_sigterm_to_one_worker_process_restarts_the_fleet(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    """The worker process drains and exits 0; Dramatiq's main process then stops the other one and exits 0
    too. Under ``--restart always`` (the Procfile) the supervisor starts the fleet again."""
    with scenario(fault_settings, tmp_path, FleetShape(processes=2)) as run:
        with run.load(uploads=UPLOADS, rate=300) as load:
            run.wait_loaded(200)
            before = run.fleet.worker_processes()
            os.kill(before[0], signal.SIGTERM)
            _wait_restarted(run.fleet, before, line="supervised command exited unasked")
        ledger = run.finish()
    report_ledger("9-stray-sigterm", ledger, restarted=True)
    assert load.sent == UPLOADS
    assert ledger.problems() == []
