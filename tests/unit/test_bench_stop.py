"""The harness stops a fleet whole: every process of its group has exited when ``stop`` returns."""

from __future__ import annotations

import subprocess
import time

import pytest

from bench import procs

# The shell dies at once on SIGTERM; its background child takes half a second to finish, as a worker
# finishing its messages does.
SLOW_TO_STOP = "(trap 'sleep 0.5; exit 0' TERM; while :; do sleep 0.05; done) & wait"
DEAF_TO_SIGTERM = "(trap '' TERM; while :; do sleep 0.05; done) & wait"


def _start(script: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    time.sleep(0.2)  # the background child has set its trap
    return process


def test_stop_returns_once_every_process_of_the_group_has_exited() -> None:
    process = _start(SLOW_TO_STOP)
    procs.stop(process)
    assert not procs._group_running(process.pid)


def test_stop_kills_what_sigterm_does_not_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "STOP_WITHIN_S", 0.5)
    process = _start(DEAF_TO_SIGTERM)
    procs.stop(process)
    assert not procs._group_running(process.pid)
