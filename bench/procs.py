"""Processes the harness starts: their environment, readiness, worker pids, resident memory, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.fleet import fleet_environment
from tests.support.processes import (
    argv,
    children,
    descendants,
    free_port,
    is_dramatiq_main,
    running,
    runs_dramatiq,
    stat_field,
)
from tests.support.rabbitmq import consumer_count
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STOP_WITHIN_S = 30.0
_PGRP = 2  # field of /proc/<pid>/stat counted from the state


def environment(settings: Settings, processes: int, threads: int, prefetch: int) -> dict[str, str]:
    """This process's environment pointed at the throwaway resources, with the fleet shape."""
    return {
        **fleet_environment(settings),
        "LOG_LEVEL": "WARNING",
        "WORKER_PROCESSES": str(processes),
        "WORKER_THREADS": str(threads),
        "dramatiq_queue_prefetch": str(prefetch),
        "RELAY_METRICS_PORT": str(free_port()),
    }


@contextmanager
def started(command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Runs ``command`` in its own session from the repository root; SIGTERM (then SIGKILL) at exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, then waits until every process of it has exited, so that nothing
    of a fleet outlives its run (nor its throwaway resources); SIGKILL to those left after STOP_WITHIN_S."""
    _signal_group(process.pid, signal.SIGTERM)
    if not _wait_for_group(process.pid, STOP_WITHIN_S):
        _signal_group(process.pid, signal.SIGKILL)
        _wait_for_group(process.pid, 10.0)
    process.wait(10)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(pgid, signum)


def _wait_for_group(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _group_running(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return any(running(pid) and stat_field(pid, _PGRP) == pgid for pid in pids)


def wait_for_consumers(process: subprocess.Popen[bytes], amqp_url: str, queue: str, log: Path) -> None:
    deadline = time.monotonic() + 90.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: exited with {process.returncode}:\n{tail(log)}")
        if consumer_count(amqp_url, queue) > 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{log.name}: no consumer on {queue} within 90 s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def worker_pids(root_pid: int, processes: int) -> list[int]:
    """The Dramatiq worker processes under ``root_pid``: the first ``processes`` children of its main
    process (the first Dramatiq process met going down the tree); the fork processes, e.g. the metrics
    server, start after them."""
    main = next((pid for pid in descendants(root_pid) if is_dramatiq_main(pid)), None)
    if main is None:
        return []
    forked = [pid for pid in children(main) if runs_dramatiq(pid) or "spawn_main" in " ".join(argv(pid))]
    return sorted(forked, key=lambda pid: (_start_time(pid), pid))[:processes]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _start_time(pid: int) -> int:
    return stat_field(pid, 19)
