"""``docfleet supervise`` against a command stuck for good, as Dramatiq's main process wedged at boot
(docs/reliability.md, "A worker process killed as it comes up"), through ``workers.cli.stuck``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.supervised import Supervise, kill_wedged, starts, wait_for_mark
from tests.e2e.fleet import BIN


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_with_restart_never_a_stuck_command_is_killed_and_its_exit_passed_on(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("wedge", "0", restart="never", stuck_after=1)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 128 + signal.SIGKILL
    assert starts(tmp_path) == 1
    assert b"supervised command stuck" in log


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_a_command_stuck_as_dramatiq_s_main_process_can_be_is_killed_and_started_again(
    tmp_path: Path, supervise: Supervise
) -> None:
    """Its stop signals blocked, a worker process it started dead and unreaped: it would never exit, so
    no restart would come (docs/reliability.md, "A worker process killed as it comes up")."""
    process = supervise("wedge", "0", stuck_after=1)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert starts(tmp_path) == 2
    [stuck] = [json.loads(line) for line in log.splitlines() if b"supervised command stuck" in line]
    assert stuck["level"] == "error"
    assert stuck["stuck_for_s"] >= 1
    [failed] = [json.loads(line) for line in log.splitlines() if b"supervised command failed" in line]
    assert failed["code"] == 128 + signal.SIGKILL


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_a_stop_while_the_command_is_stuck_ends_once_it_is_killed_a_few_seconds_on(
    tmp_path: Path, supervise: Supervise
) -> None:
    """The SIGTERM forwarded to it stays pending: the watch is what ends the stop, without waiting out
    --stuck-after (honcho kills the supervisor 5 s after Ctrl-C, which would leave it unsupervised)."""
    process = supervise("wedge", "0", stuck_after=600)
    wait_for_mark(tmp_path, lambda text: text.startswith("ready"))
    asked = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=60)

    assert time.monotonic() - asked < 30, "3 s, looking once a second: not the 600 of --stuck-after"
    assert process.returncode == 128 + signal.SIGKILL
    assert starts(tmp_path) == 1, "a stop is not restarted"
    assert b"supervised command stuck" in log


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_with_stuck_after_0_a_stuck_command_is_left_alone(tmp_path: Path, supervise: Supervise) -> None:
    process = supervise("wedge", "0", stuck_after=0)
    wait_for_mark(tmp_path, lambda text: text.startswith("ready"))
    process.send_signal(signal.SIGTERM)
    time.sleep(6)  # a watch, while stopping, would have killed it after 3 s, looking once a second

    assert process.poll() is None
    assert starts(tmp_path) == 1
    kill_wedged(tmp_path)
    _, log = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGKILL, "stopping: not restarted"
    assert b"supervised command stuck" not in log


# A Dramatiq broker module whose first worker process is killed in the middle of Dramatiq's own boot
# hand-shake, as Event.set has woken the main process and still holds the Event's lock, which the main
# process must take back; the next start boots as usual.
WEDGING_BROKER = """
import multiprocessing.synchronize, os, signal
from pathlib import Path
import dramatiq
from dramatiq.brokers.stub import StubBroker

dramatiq.set_broker(StubBroker())

def set_then_die(event):
    with event._cond:
        event._flag.acquire(False)
        event._flag.release()
        event._cond.notify_all()  # returns once the main process has woken
        os.kill(os.getpid(), signal.SIGKILL)

if not Path("wedged-once").exists():
    Path("wedged-once").touch()
    multiprocessing.synchronize.Event.set = set_then_die
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_dramatiq_wedged_by_a_worker_process_killed_as_it_came_up_is_started_again(tmp_path: Path) -> None:
    (tmp_path / "wedging_broker.py").write_text(WEDGING_BROKER)
    dramatiq = [str(BIN / "dramatiq"), "wedging_broker", "--processes", "1", "--threads", "1"]
    command = [str(BIN / "docfleet"), "supervise", "--stuck-after", "2", "--", *dramatiq]
    log = tmp_path / "log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tmp_path, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"Worker process is ready for action" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:  # Dramatiq's main process in a group of its own, wedged deaf to its supervisor's death
        for group in [process.pid, *_started_pids(log)]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)

    text = log.read_text()
    assert process.returncode == 0, text
    assert text.count("supervised command started") == 2
    assert text.count("supervised command stuck") == 1


def _started_pids(log: Path) -> list[int]:
    lines = log.read_text().splitlines()
    return [json.loads(line)["pid"] for line in lines if "supervised command started" in line]
