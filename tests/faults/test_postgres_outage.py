"""Scenario 11: the scenario's database refusing every connection for 60 s under load.

That is longer than a fault's retries last (about 17 to 35 s of waiting), so only the workers' wait for
Postgres (``workers.middleware.outage``) keeps the messages of the outage from being dead-lettered. Only
the scenario's own database refuses connections; the server and its other databases go on.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from adapters.postgres.engine import libpq_conninfo
from tests.faults.conftest import Report
from tests.faults.fleet import FleetShape
from tests.faults.harness import scenario
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 800
RATE = 10.0  # so that the load lasts through the outage and beyond it
DOWN_FOR_S = 60.0
GATE_CLOSED = "postgres unreachable: new messages wait until it answers"
GATE_OPEN = "postgres answers again: messages run"


def _accept_connections(database_url: str, accept: bool) -> None:
    """Lets the database take connections or not; not: also ends those it has."""
    url = make_url(database_url)
    admin = url.set(database="postgres")
    with psycopg.connect(libpq_conninfo(admin), autocommit=True, connect_timeout=10) as connection:
        name = sql.Identifier(str(url.database))
        connection.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(name, accept))
        if not accept:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (url.database,)
            )


def test_11_the_database_refusing_connections_for_60_seconds_under_load(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    with scenario(fault_settings, tmp_path, FleetShape(processes=1)) as run:
        with run.load(uploads=UPLOADS, rate=RATE):
            run.wait_loaded(100)
            _accept_connections(fault_settings.database_url, False)
            try:
                time.sleep(DOWN_FOR_S)  # the outage itself, the load going on
            finally:
                _accept_connections(fault_settings.database_url, True)
        ledger = run.finish()
        log = run.fleet.log_text()
    report_ledger("11-postgres-refusing-60s", ledger, down_for_s=DOWN_FOR_S)
    assert GATE_CLOSED in log, "the outage reached the workers"
    assert GATE_OPEN in log
    assert ledger.problems() == []
