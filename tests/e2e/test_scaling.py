"""`honcho start -c worker=2`: two worker fleets on one host, each serving its metrics on its own PORT."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.fleet import BIN, ROOT, consumers, fleet_environment, stop_fleet, tail
from tests.e2e.test_metrics_support import scrape, value
from tests.support.processes import free_ports
from tests.support.waiting import wait_for
from workers.settings import Settings

pytestmark = pytest.mark.e2e

COMMANDS = 40


def _serves_metrics(port: int) -> bool:
    try:
        scrape(port)
    except OSError:  # URLError included: the fleet's metrics process is not listening yet
        return False
    return True


def _processed(port: int) -> float:
    labels = {"queue": "documents", "actor": "add_member"}
    return value(scrape(port), "docfleet_messages_processed_total", **labels)


def test_two_worker_fleets_share_the_queue_and_each_serves_its_metrics(
    fleet_settings: Settings, tmp_path: Path
) -> None:
    base = free_ports(2)  # honcho gives worker.N the port base + N - 1
    (tmp_path / "empty.env").write_text("")
    environment = {**fleet_environment(fleet_settings), "METRICS_ENABLED": "true", "TMPDIR": str(tmp_path)}
    environment.pop("WORKER_METRICS_PORT", None)
    command = [str(BIN / "honcho"), "start", "-f", "Procfile", "-e", str(tmp_path / "empty.env")]
    command += ["-p", str(base), "-c", "worker=2", "worker"]
    log_path = tmp_path / "fleet.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(lambda: consumers(fleet_settings.amqp_url).get("documents", 0) >= 2, 60, "two fleets")
            wait_for(lambda: _serves_metrics(base) and _serves_metrics(base + 1), 60, "both metrics ports")
            from workers.client import DocfleetClient

            org = f"org-{uuid.uuid4().hex[:8]}"
            with DocfleetClient.from_settings(fleet_settings) as client:
                for n in range(COMMANDS):
                    client.add_member(org_id=org, user_id=f"user-{n}")
            wait_for(lambda: _processed(base) + _processed(base + 1) >= COMMANDS, 60, "every command")
            time.sleep(0.5)
            first, second = _processed(base), _processed(base + 1)
        finally:
            seconds = stop_fleet(process)
    assert seconds < 30, tail(log_path)
    assert first + second == COMMANDS
    assert first > 0, "worker.1 served its own metrics and processed some commands"
    assert second > 0, "worker.2 served its own metrics and processed some commands"
