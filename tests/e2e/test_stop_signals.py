"""SIGHUP stops the relay and the audit consumer as cleanly as SIGTERM: Dramatiq takes it for a reload,
and ``docfleet supervise`` passes it on to whatever it runs, so a reload of the fleet restarts them
(the supervisor or the platform starts them again; docs/reliability.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.fleet import BIN, started
from workers.settings import Settings

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("command", "up", "stopped"),
    [
        ("relay", "relay started", "relay stopped"),
        ("audit", "audit consumer connected", "audit consumer stopped"),
    ],
)
def test_sighup_is_a_clean_stop(
    fleet_settings: Settings, tmp_path: Path, command: str, up: str, stopped: str
) -> None:
    log_path = tmp_path / "log"
    with log_path.open("wb") as log:
        process = started([str(BIN / "docfleet"), command], fleet_settings, log)
    try:
        deadline = time.monotonic() + 30
        while up not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=30) == 0, log_path.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert stopped in log_path.read_text()
