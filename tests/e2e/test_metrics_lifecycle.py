"""The fleet's metrics directory is its run's own and goes with it; METRICS_ENABLED=false serves nothing."""

from __future__ import annotations

import dataclasses
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_metrics_support import metrics_fleet, scrape, value
from tests.support.processes import children, dead_pid, descendants, is_dramatiq_main, running, stat_field
from tests.support.services import default_settings, throwaway_key_prefix, throwaway_vhost
from tests.support.waiting import wait_for
from workers.metrics.fleet_run import ROOT_NAME
from workers.settings import Settings

pytestmark = pytest.mark.e2e
STARTED = 19  # /proc/<pid>/stat's starttime, counted from the state


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    base = default_settings()
    with throwaway_vhost(base.amqp_url) as amqp_url, throwaway_key_prefix(base.valkey_url) as prefix:
        yield dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=prefix)


def test_the_run_directory_replaces_stale_ones_holds_the_runs_members_and_goes_with_the_fleet(
    settings: Settings, tmp_path: Path
) -> None:
    stale = tmp_path / "tmp" / ROOT_NAME / f"{dead_pid()}-0123456789abcdef"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"")

    with metrics_fleet(settings, tmp_path) as fleet:
        wait_for(lambda: _processes(fleet.worker_port) == 2, what="two worker processes counted")
        [run_dir] = fleet.run_dirs()
        members = sorted(path.name for path in run_dir.glob(".member-*"))
        counter_files = sorted(path.name for path in run_dir.glob("counter_*.db"))

    assert not stale.exists(), "a run whose parent is gone is removed"
    parent_pid, _, token = run_dir.name.partition("-")
    assert parent_pid.isdigit()
    assert len(token) == 16
    assert len(members) == 3, "two worker processes and the process that serves their metrics"
    assert len(counter_files) == 2
    assert fleet.run_dirs() == [], "the last process out removed the run's directory"


def test_after_a_sigkill_of_dramatiq_the_restarted_fleet_serves_its_metrics_on_the_port(
    settings: Settings, tmp_path: Path
) -> None:
    """Killed, Dramatiq's main process sends its metrics process no SIGTERM: that process must still
    leave, or it keeps the port and serves the dead run's empty page to the next run's scrapes."""
    with metrics_fleet(settings, tmp_path) as fleet:
        wait_for(lambda: _processes(fleet.worker_port) == 2, what="two worker processes counted")
        [main] = [pid for pid in descendants(fleet.root_pid) if is_dramatiq_main(pid)]
        metrics_process = max(children(main), key=lambda pid: (stat_field(pid, STARTED), pid))  # forked last
        os.kill(main, signal.SIGKILL)  # docfleet supervise starts Dramatiq again
        wait_for(lambda: not running(metrics_process), 10, "the metrics process to leave with its Dramatiq")

        def restarted_and_served() -> bool:
            mains = [pid for pid in descendants(fleet.root_pid) if is_dramatiq_main(pid)]
            return bool(mains) and main not in mains and _processes(fleet.worker_port) == 2

        wait_for(restarted_and_served, 60, "the restarted fleet's two processes on the port")


def test_with_metrics_disabled_nothing_listens_and_no_directory_is_made(
    settings: Settings, tmp_path: Path
) -> None:
    with metrics_fleet(settings, tmp_path, enabled=False) as fleet:
        for port in (fleet.worker_port, fleet.relay_port):
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
        assert not (fleet.tmpdir / ROOT_NAME).exists()


def _processes(port: int) -> float:
    try:
        return value(scrape(port), "docfleet_worker_processes")
    except OSError:
        return 0.0
