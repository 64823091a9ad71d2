"""Scenario 5: every Postgres backend of the scenario's database terminated, again and again, under load.

Only the scenario's own database is touched. Units of work in flight fail and their messages are retried
(a fault); one whose COMMIT went through before its connection died comes back as a duplicate.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import Report
from tests.faults.fleet import FleetShape
from tests.faults.harness import scenario
from tests.faults.ledger_queries import rows
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000
TERMINATE_FOR_S = 5.0
TERMINATE_EVERY_S = 0.5
TERMINATE_ALL = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def _terminate_backends_repeatedly(database_url: str) -> tuple[int, int]:
    """How many rounds, and how many backends were terminated in all."""
    rounds = terminated = 0
    deadline = time.monotonic() + TERMINATE_FOR_S
    while time.monotonic() < deadline:
        terminated += int(rows(database_url, TERMINATE_ALL)[0][0])
        rounds += 1
        time.sleep(TERMINATE_EVERY_S)
    return rounds, terminated


def test_5_terminate_every_postgres_backend_under_load(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    with scenario(fault_settings, tmp_path, FleetShape(processes=1)) as run:
        with run.load(uploads=UPLOADS, rate=150):
            run.wait_loaded(200)
            rounds, terminated = _terminate_backends_repeatedly(fault_settings.database_url)
        ledger = run.finish()
    report_ledger("5-postgres-backends-terminated", ledger, rounds=rounds, backends_terminated=terminated)
    assert terminated > rounds, "the fleet's connections were terminated, not only the producer's"
    assert ledger.problems() == []
