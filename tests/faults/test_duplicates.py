"""Scenario 7: every command delivered twice, the same message id both times. The inbox applies the first
and acks the second as a duplicate: one effect and one event per command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import Report
from tests.faults.fleet import FleetShape
from tests.faults.harness import scenario
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000


def test_7_every_command_delivered_twice(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    with scenario(fault_settings, tmp_path, FleetShape(processes=1), copies=2) as run:
        with run.load(uploads=UPLOADS, rate=300):
            pass
        ledger = run.finish()
        duplicates = len(run.fleet.outcome_lines("duplicate"))
    report_ledger("7-every-command-twice", ledger, delivered=2 * ledger.sent, acked_as_duplicate=duplicates)
    assert duplicates == ledger.sent, "the second copy of every command was recognised"
    assert ledger.problems() == []
