"""Measurements 2, 3 and 5 on one start of the fleet: the Procfile's worker and relay (``bench.procfile``)."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from adapters.postgres.engine import libpq_conninfo
from bench.cpu import CpuWindow, Groups, cpu_use, fleet_groups
from bench.latency import measure_latency
from bench.load import publish, shares, uploads
from bench.options import Options
from bench.procfile import fleet_command
from bench.procs import environment, rss_kib, started, tail, wait_for_consumers, worker_pids
from bench.seed import upload_folders
from bench.stats import from_timestamps, per_transaction, steady_rate
from tests.support.processes import free_port
from workers.client import DocfleetClient
from workers.contract import COMMANDS_QUEUE
from workers.settings import Settings

# Drained before the measured uploads, not counted: the fleet's boot (the metrics server's process
# starting, about half a second of CPU, and the pools' first connections) falls in them, not in the
# measured window. The ceiling's no-op worker has no such process.
WARM_UP_UPLOADS = 3_000


def latency_recipients(options: Options, prefix: str) -> list[str]:
    count = math.ceil(options.latency_rate * options.latency_seconds / options.messages)
    return [f"{prefix}-lat-{index}" for index in range(count)]


def measure_fleet(settings: Settings, options: Options, workdir: Path, prefix: str) -> dict[str, float]:
    """Pre-loads the warm-up uploads, N uploads then N shares, starts the fleet, measures both rates from
    the inbox, then the latency, then tops up with uploads until ``memory_messages`` were processed and
    reads RSS again."""
    n, folders = options.messages, upload_folders(prefix, options.folders)
    warm_up = min(WARM_UP_UPLOADS, n)
    database = libpq_conninfo(settings.database_url)
    with DocfleetClient(settings.amqp_url, name="docfleet-bench") as client:
        publish(client, uploads(f"{prefix}w", folders, warm_up))
        publish(client, uploads(prefix, folders, n))
        publish(client, shares(prefix, n))
        command, logs = fleet_command(["worker", "relay"], workdir, f"fleet-{prefix}")
        log = logs["worker"]
        with started(command, _fleet_env(settings, options), workdir / f"fleet-{prefix}.log") as process:
            _wait_ready(process, settings.amqp_url, log, logs["relay"])
            pids = worker_pids(process.pid, options.processes)
            figures = {"rss_boot_kib": float(sum(rss_kib(pid) for pid in pids))}
            _wait_count(database, f"{prefix}-up-%", max(1, n // 10), log)
            figures["rss_start_kib"] = float(sum(rss_kib(pid) for pid in pids))
            figures |= _rates(database, prefix, n, log, fleet_groups(process.pid, pids))
            _wait_outbox_drained(database, log)  # the latency is measured at 200/s, not behind a backlog
            documents = [f"{prefix}-{index}" for index in range(n)]
            recipients = latency_recipients(options, prefix)
            with cpu_use(fleet_groups(process.pid, pids)) as cpu:
                figures |= measure_latency(
                    settings, documents, recipients, options.latency_rate, options.latency_seconds
                )
            figures |= cpu.per_message("latency", figures["latency_received"])
            processed = warm_up + 2 * n + figures["latency_sent"]
            figures |= _memory(client, database, options, prefix, pids, log, processed)
    return figures


def _fleet_env(settings: Settings, options: Options) -> dict[str, str]:
    env = environment(settings, options.processes, options.threads, options.prefetch)
    env["LOG_LEVEL"] = "INFO"  # the product's default; the relay's leadership line is needed
    env["PORT"] = str(free_port())
    return env


def _wait_ready(process: subprocess.Popen[bytes], amqp_url: str, log: Path, relay_log: Path) -> None:
    wait_for_consumers(process, amqp_url, COMMANDS_QUEUE, log)
    deadline = time.monotonic() + 60.0
    while b"relay is the leader" not in relay_log.read_bytes():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the relay did not lead within 60 s:\n{tail(relay_log)}")
        time.sleep(0.1)


def _rates(database: str, prefix: str, n: int, log: Path, groups: Groups) -> dict[str, float]:
    """Each rate, and the CPU each part used per message meanwhile (``cpu_uploads_*``, ``cpu_shares_*``:
    from 10 % to 90 % of the messages, as the twice-a-second polling sees them, or to the last poll
    before the other kind advanced). Both counts are polled together: the shares are under way before
    the last uploads are done, since the fleet's threads take the next messages in the queue."""
    kinds = {"upload": f"{prefix}-up-%", "share": f"{prefix}-sh-%"}
    windows = {kind: CpuWindow(groups, n) for kind in kinds}

    def fewest_done(conn: psycopg.Connection[Any]) -> int:
        counts = {kind: _count(conn, _PROCESSED, (pattern,)) for kind, pattern in kinds.items()}
        for kind, window in windows.items():
            window.observe(counts[kind], others=sum(counts.values()) - counts[kind])
        return min(counts.values())

    what = f"of {n} uploads and shares processed"
    _poll(database, fewest_done, lambda done: done >= n, 120.0 + n / 10, log, what)
    rates: dict[str, float] = {}
    for kind, pattern in kinds.items():
        times = _processed_at(database, pattern)
        rates[f"{kind}_per_s"] = steady_rate(from_timestamps(times), n)
        rates[f"{kind}_commands_per_transaction"] = per_transaction(times)
        rates |= windows[kind].per_message(f"{kind}s")
    return rates


def _memory(
    client: DocfleetClient,
    database: str,
    options: Options,
    prefix: str,
    pids: list[int],
    log: Path,
    processed: float,
) -> dict[str, float]:
    remaining = max(0, options.memory_messages - int(processed))
    if remaining:
        publish(client, uploads(f"{prefix}m", upload_folders(prefix, options.folders), remaining))
        _wait_count(database, f"{prefix}m-up-%", remaining, log)
    end = float(sum(rss_kib(pid) for pid in pids))
    return {"rss_end_kib": end, "memory_messages": processed + remaining}


_PROCESSED = "SELECT count(*) FROM inbox WHERE message_id LIKE %s"


def _count(conn: psycopg.Connection[Any], query: str, params: tuple[str, ...] = ()) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def _processed_at(database: str, pattern: str) -> list[float]:
    query = "SELECT extract(epoch FROM processed_at)::float8 FROM inbox WHERE message_id LIKE %s"
    with psycopg.connect(database) as conn:
        return [float(row[0]) for row in conn.execute(query, (pattern,))]


def _wait_outbox_drained(database: str, log: Path) -> None:
    unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    _poll(
        database, partial(_count, query=unpublished), lambda left: left == 0, 300.0, log, "events unpublished"
    )


def _wait_count(database: str, pattern: str, target: int, log: Path) -> None:
    seconds = 120.0 + target / 20
    done = f"of {target} {pattern} processed"
    count = partial(_count, query=_PROCESSED, params=(pattern,))
    _poll(database, count, lambda n: n >= target, seconds, log, done)


Count = Callable[[psycopg.Connection[Any]], int]


def _poll(
    database: str, count: Count, enough: Callable[[int], bool], seconds: float, log: Path, what: str
) -> None:
    """Polls twice a second, on one connection: the counts scan their tables, and the fleet shares the
    CPU with them (each run starts on an inbox of its own: ``bench.resources.forget_earlier_runs``). The
    rates come from ``processed_at``, so how soon the end is noticed does not change them."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(database, autocommit=True) as conn:
        while not enough(found := count(conn)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{found} {what} after {seconds:.0f} s:\n{tail(log)}")
            time.sleep(0.5)
