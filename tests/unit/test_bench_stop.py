"""The harness stops a fleet whole: every process of its group has exited when ``stop`` returns."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest

from bench import procs

# The shell dies at once on SIGTERM; its background child takes half a second to finish, as a worker
# finishing its messages does.
# Each child says "trapped" once its trap is set, so that SIGTERM is never sent before.
SLOW_TO_STOP = "(trap 'sleep 0.5; exit 0' TERM; echo trapped; while :; do sleep 0.05; done) & wait"
DEAF_TO_SIGTERM = "(trap '' TERM; echo trapped; while :; do sleep 0.05; done) & wait"

Start = Callable[[str], "subprocess.Popen[bytes]"]


@pytest.fixture
def start() -> Iterator[Start]:
    """Starts a script in a process group of its own once its trap is set; kills the group at the end,
    whatever the test did, so that a failing ``stop`` leaves nothing running."""
    started: list[subprocess.Popen[bytes]] = []

    def start_script(script: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdout=subprocess.PIPE)
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == b"trapped\n"
        return process

    yield start_script
    for process in started:
        if procs._group_running(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()
        process.wait()


def test_stop_returns_once_every_process_of_the_group_has_exited(start: Start) -> None:
    process = start(SLOW_TO_STOP)
    procs.stop(process)
    assert not procs._group_running(process.pid)


def test_stop_kills_what_sigterm_does_not_stop(start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "STOP_WITHIN_S", 0.5)
    process = start(DEAF_TO_SIGTERM)
    procs.stop(process)
    assert not procs._group_running(process.pid)
