"""Scenario 3: the relay SIGKILLed after RabbitMQ confirmed a batch and before its rows were marked
published. The supervisor restarts it; the new relay publishes the batch again: the same event ids twice on
the wire, never an event lost, never two event ids for one change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.fleet import tail
from tests.faults.conftest import Report
from tests.faults.fleet import Fleet, FleetShape
from tests.faults.harness import scenario
from tests.faults.hooks.names import CONFIRMED, PAUSE_BEFORE_MARK
from tests.faults.procs import kill
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000


def _confirmed_batch(fleet: Fleet, timeout: float = 30.0) -> tuple[int, int]:
    """The relay process holding a confirmed batch, and how many events the batch has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for announced in fleet.hooks.glob(f"{CONFIRMED}.*"):
            if lines := announced.read_text().split("\n")[:-1]:
                first, last = (int(seq) for seq in lines[0].split())
                return int(announced.suffix[1:]), last - first + 1
        time.sleep(0.05)
    raise AssertionError(f"the relay never held a confirmed batch:\n{tail(fleet.log)}")


def _wait_relay_restarted(fleet: Fleet, killed: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not (
        fleet.relay_process() not in (None, killed) and fleet.log_text().count("relay is the leader") >= 2
    ):
        assert time.monotonic() < deadline, f"the relay was not restarted:\n{tail(fleet.log)}"
        time.sleep(0.2)


def test_3_sigkill_the_relay_between_the_confirm_and_marking_the_rows_published(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    shape = FleetShape(processes=1, relay_command="python -m tests.faults.hooks.relay_pause")
    with scenario(fault_settings, tmp_path, shape) as run:
        with run.load(uploads=UPLOADS, rate=300):
            run.wait_loaded(200)
            trigger = run.fleet.hooks / PAUSE_BEFORE_MARK
            trigger.touch()
            relay, batch = _confirmed_batch(run.fleet)
            kill(relay)
            trigger.unlink()
            _wait_relay_restarted(run.fleet, relay)
        ledger = run.finish()
    report_ledger("3-sigkill-relay-before-mark", ledger, confirmed_unmarked_at_kill=batch)
    assert ledger.events_twice_on_wire >= batch, "the batch confirmed before the kill was published again"
    assert ledger.problems() == []
