"""Scenario 6: the Valkey server gone for 30 s under load. Commands keep succeeding (the cache is skipped,
invalidations owed are kept); once it is back, no listing the fleet serves is stale."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from tests.faults.conftest import Report
from tests.faults.fleet import FleetShape
from tests.faults.harness import scenario
from tests.faults.listings import stale_listings
from tests.faults.valkey_server import private_valkey
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000
RATE = 25.0  # so that the load lasts through the outage and beyond it
DOWN_FOR_S = 30.0


def test_6_valkey_unavailable_for_30_seconds_under_load(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    with private_valkey(tmp_path) as server:
        settings = dataclasses.replace(fault_settings, valkey_url=server.url)
        with scenario(settings, tmp_path, FleetShape(processes=1)) as run:
            with run.load(uploads=UPLOADS, rate=RATE):
                run.wait_loaded(100)
                stale_before = stale_listings(settings, run.workload)  # and the cache filled
                server.kill()
                applied_before = run.applied_count()
                time.sleep(DOWN_FOR_S)  # the outage itself
                applied_while_down = run.applied_count() - applied_before
                server.start()
            ledger = run.finish()
    report_ledger("6-valkey-down-30s", ledger, applied_while_down=applied_while_down)
    assert stale_before == []
    assert applied_while_down >= RATE * DOWN_FOR_S / 2, "commands kept succeeding without Valkey"
    assert ledger.problems() == []
