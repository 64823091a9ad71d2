"""A worker started against a database nobody migrated takes no message: each worker process logs one
line and exits with 75 before it consumes; the supervisor starts it again, backing off, and once the
database is migrated the worker carries out what waited in the queue."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.postgres.migrations import upgrade_to_head
from tests.e2e.fleet import BIN, started, stop_fleet, tail
from tests.support.rabbitmq import queue_depth
from tests.support.waiting import wait_for
from workers.schema_gate import NOT_MIGRATED, SCHEMA_NOT_READY
from workers.settings import Settings

pytestmark = pytest.mark.e2e

WORKER = [str(BIN / "dramatiq"), "workers.actors", "--threads", "2"]


def test_each_worker_process_exits_75_with_one_line_and_the_command_stays_queued(
    unmigrated: Settings, tmp_path: Path
) -> None:
    _queue_add_member(unmigrated, org_id=f"org-{uuid.uuid4().hex[:8]}")
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = started([*WORKER, "--processes", "2"], unmigrated, log)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker ran on against a database without the schema:\n{tail(log_path)}")
        finally:
            _kill_what_is_left(process)

    told = [record for record in _records(log_path) if record.get("event") == NOT_MIGRATED]
    assert code == SCHEMA_NOT_READY, tail(log_path)
    assert len(told) == 2, "one line per worker process"
    assert all(record["level"] == "error" for record in told)
    assert b"Worker process is ready for action" not in log_path.read_bytes()
    assert queue_depth(unmigrated.amqp_url, "documents") == 1, "the command was taken"


def test_under_supervise_the_worker_is_started_again_until_the_database_is_migrated(
    unmigrated: Settings, tmp_path: Path
) -> None:
    org_id = f"org-{uuid.uuid4().hex[:8]}"
    _queue_add_member(unmigrated, org_id=org_id)
    log_path = tmp_path / "fleet.log"
    supervise = [str(BIN / "docfleet"), "supervise", "--restart", "always", "--backoff-max", "1", "--"]
    with log_path.open("wb") as log:
        process = started([*supervise, *WORKER, "--processes", "1"], unmigrated, log)
        try:
            wait_for(lambda: len(_failures(log_path)) >= 2, timeout=60, what="two restarts")
            assert queue_depth(unmigrated.amqp_url, "documents") == 1, "the command was taken"
            upgrade_to_head(unmigrated.database_url)
            wait_for(lambda: _members_of(unmigrated.database_url, org_id) == 1, timeout=60, what="the member")
        finally:
            stop_fleet(process)
            _kill_what_is_left(process)

    assert process.returncode == 0, tail(log_path)
    assert {failure["code"] for failure in _failures(log_path)} == {SCHEMA_NOT_READY}


def _queue_add_member(settings: Settings, *, org_id: str) -> None:
    from workers.actors import declare_on
    from workers.broker import build_broker

    broker = build_broker(settings)
    try:
        declare_on(broker)["add_member"].send(org_id=org_id, user_id="alice")
    finally:
        broker.close()


def _members_of(database_url: str, org_id: str) -> int:
    import psycopg

    from adapters.postgres.engine import libpq_conninfo

    with psycopg.connect(libpq_conninfo(database_url)) as connection:
        row = connection.execute("SELECT count(*) FROM memberships WHERE org_id = %s", (org_id,)).fetchone()
    return int(row[0]) if row else 0


def _failures(log_path: Path) -> list[dict[str, Any]]:
    return [record for record in _records(log_path) if record.get("event") == "supervised command failed"]


def _records(log_path: Path) -> list[dict[str, Any]]:
    records = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line still being written
    return records


def _kill_what_is_left(process: subprocess.Popen[bytes]) -> None:
    """Dramatiq's worker processes outlive a main process that is gone: the whole group, if any is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(10)
