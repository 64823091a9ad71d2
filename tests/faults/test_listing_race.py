"""Scenario 8: the cache repopulation race, forced. A list_folder reader loads a folder's listing from
Postgres and is held before it fills the cache; a writer commits an upload to that folder and invalidates
the listing; then the reader fills the cache with the listing it loaded, now out of date. The listing
version guard must keep that entry from ever being served: the next listing has the upload."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import pytest
import valkey

from tests.e2e.fleet import tail
from tests.faults.conftest import Report
from tests.faults.fleet import Fleet, FleetShape
from tests.faults.harness import Run, scenario
from tests.faults.hooks.names import FILLING, INVALIDATED, PAUSE_LISTING_FILL
from tests.faults.ledger_queries import rows
from tests.faults.listings import listed
from tests.support.cache_keys import listing_key
from workers.client import DocfleetClient
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000


def _announced(fleet: Fleet, name: str, wanted: str, timeout: float = 30.0) -> str:
    """The first line announced under ``name`` that contains ``wanted``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for announced in fleet.hooks.glob(f"{name}.*"):
            found = [line for line in announced.read_text().splitlines() if wanted in line.split()]
            if found:
                return found[0]
        time.sleep(0.02)
    raise AssertionError(f"nothing announced as {name} for {wanted}:\n{tail(fleet.log)}")


def _cached_version(settings: Settings, folder: str) -> int | None:
    client = valkey.Valkey.from_url(settings.valkey_url)
    try:
        version = cast(bytes | None, client.hget(listing_key(settings, folder), "version"))
    finally:
        client.close()  # type: ignore[no-untyped-call]
    return None if version is None else int(version)


def _listing_version(settings: Settings, folder: str) -> int:
    return int(rows(settings.database_url, "SELECT listing_version FROM folders WHERE id = %s", folder)[0][0])


def _race(run: Run, client: DocfleetClient, folder: str, doc_index: int) -> tuple[bool, bool]:
    """One forced race on ``folder``: whether the reader cached an out-of-date listing, and whether the
    fleet then served a stale listing."""
    trigger, owner = run.fleet.hooks / PAUSE_LISTING_FILL, run.workload.owner
    trigger.touch()
    with ThreadPoolExecutor(max_workers=1) as reader:
        page = reader.submit(client.list_folder, folder_id=folder, requested_by=owner, limit=1000, timeout=60)
        loaded_version = int(_announced(run.fleet, FILLING, folder).split()[1])
        upload = run.workload.upload(doc_index, folder=folder)
        run.producer.send([upload])
        _announced(run.fleet, INVALIDATED, upload.message_id)
        trigger.unlink()
        page.result()
    out_of_date_cached = (
        _cached_version(run.settings, folder) == loaded_version < _listing_version(run.settings, folder)
    )
    served = listed(client, folder, owner)
    return out_of_date_cached, (run.workload.document(doc_index), 1) not in served


def test_8_a_reader_fills_the_cache_after_a_writer_invalidated_it(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    shape = FleetShape(processes=1, worker_hooks=("tests.faults.hooks.listing_race",))
    with scenario(fault_settings, tmp_path, shape) as run:
        with run.load(uploads=UPLOADS, rate=500):
            pass
        run.wait_applied(len(run.producer.confirmed))  # no other writer from here on
        with DocfleetClient.from_settings(fault_settings, name="faults-race") as client:
            races = [_race(run, client, folder, UPLOADS + n) for n, folder in enumerate(run.workload.folders)]
        ledger = run.finish()
    out_of_date_cached = sum(cached for cached, _ in races)
    stale_served = sum(stale for _, stale in races)
    report_ledger(
        "8-cache-repopulation-race", ledger, races=len(races), out_of_date_cached=out_of_date_cached
    )
    assert out_of_date_cached == len(races), "each race left the reader's out-of-date listing in the cache"
    assert stale_served == 0
    assert ledger.problems() == []
