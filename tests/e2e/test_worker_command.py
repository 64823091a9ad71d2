"""``docfleet worker``: Dramatiq's worker command on ``workers.actors``, every line of whose processes, the
main process's included, is docfleet's JSON at ``LOG_LEVEL``; a bad setting or option stops it at once.

A database without the schema makes each worker process exit, and Dramatiq's main process then logs that
one died: lines of both kinds, from a fleet that needs no migration."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import dramatiq
import pytest

from tests.e2e.fleet import BIN, fleet_environment, tail
from tests.support.services import default_settings, throwaway_database
from workers.schema_gate import DATABASE_UNUSABLE, NOT_MIGRATED, SCHEMA_NOT_READY
from workers.settings import Settings

pytestmark = pytest.mark.e2e

WORKER = [str(BIN / "docfleet"), "worker", "--processes", "2", "--threads", "1"]


def _run_until_it_exits(settings: Settings, log_path: Path, log_level: str = "INFO") -> int:
    """Its temporary files (the metrics' run directory) go to a ``tmp`` folder beside ``log_path``."""
    temporary = log_path.parent / "tmp"
    temporary.mkdir(exist_ok=True)
    environment = {**fleet_environment(settings), "LOG_LEVEL": log_level, "TMPDIR": str(temporary)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(WORKER, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            return process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"the worker ran on against a database without the schema:\n{tail(log_path)}")


def _records(log_path: Path) -> list[dict[str, Any]]:
    lines = log_path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


def test_every_line_of_the_fleet_is_json_the_main_processs_included(
    unmigrated: Settings, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"

    code = _run_until_it_exits(unmigrated, log_path)

    records = _records(log_path)
    by_event = {record["event"]: record for record in records}
    assert code == SCHEMA_NOT_READY, tail(log_path)
    assert by_event[NOT_MIGRATED]["level"] == "error"
    assert by_event[f"Dramatiq {dramatiq.__version__!r} is booting up."]["logger"] == "dramatiq.MainProcess"
    [died] = [record for record in records if "exited unexpectedly" in record["event"]]
    assert (died["level"], died["logger"]) == ("critical", "dramatiq.MainProcess")
    assert all({"timestamp", "level", "logger"} <= record.keys() for record in records)
    # Each process left the metrics' run as it ended, those the schema stopped at boot included.
    assert not [path for path in (tmp_path / "tmp" / "docfleet-metrics").glob("*") if path.is_dir()]


def test_the_main_processs_lines_follow_log_level(unmigrated: Settings, tmp_path: Path) -> None:
    log_path = tmp_path / "worker.log"

    code = _run_until_it_exits(unmigrated, log_path, log_level="ERROR")

    levels = {record["level"] for record in _records(log_path)}
    assert code == SCHEMA_NOT_READY, tail(log_path)
    assert levels == {"error", "critical"}, "no info line: Dramatiq's booting up, a worker process ready"


def test_a_bad_setting_is_one_line_and_exit_2_before_any_worker_process(tmp_path: Path) -> None:
    environment = {**fleet_environment(default_settings()), "LOG_LEVEL": "verbose"}

    done = subprocess.run(WORKER, env=environment, capture_output=True, timeout=60, check=False)

    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("docfleet: invalid setting: LOG_LEVEL: input should be 'DEBUG', 'INFO',")


def test_dramatiqs_log_file_is_refused_as_every_line_goes_to_stderr(tmp_path: Path) -> None:
    command = [*WORKER, "--log-file", str(tmp_path / "fleet.log")]

    done = subprocess.run(command, env=fleet_environment(default_settings()), capture_output=True, timeout=60)

    assert done.returncode == 2
    assert b"--log-file is not taken" in done.stderr
    assert not (tmp_path / "fleet.log").exists()


def test_its_help_gives_docfleets_example_not_dramatiqs() -> None:
    done = subprocess.run([*WORKER, "--help"], capture_output=True, timeout=60)

    assert done.returncode == 0
    assert b"$ docfleet worker --processes 2 --threads 32" in done.stdout
    assert b"$ dramatiq" not in done.stdout


def test_an_option_dramatiq_does_not_know_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [*WORKER, "--bogus"], env=fleet_environment(default_settings()), capture_output=True
    )

    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == ["docfleet: worker: unrecognized arguments: --bogus"]


def test_help_is_docfleets_and_needs_no_settings() -> None:
    environment = {**fleet_environment(default_settings()), "LOG_LEVEL": "verbose"}

    done = subprocess.run([*WORKER, "--help"], env=environment, capture_output=True, timeout=60)

    assert done.returncode == 0
    assert done.stdout.decode().startswith("usage: docfleet worker [MODULE...] [DRAMATIQ OPTION...]")


def test_a_database_no_migration_can_mend_stops_the_supervised_fleet_instead_of_restarting_it(
    unmigrated: Settings, tmp_path: Path
) -> None:
    """Restarted with back-off, such a worker used to exit 75 for as long as anyone let it."""
    options = "ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
    log_path = tmp_path / "supervised.log"
    with throwaway_database(unmigrated.database_url, options=options) as latin1:
        settings = dataclasses.replace(unmigrated, database_url=latin1)
        supervised = [str(BIN / "docfleet"), "supervise", "--restart", "always", "--", *WORKER]
        with log_path.open("wb") as log:
            done = subprocess.run(
                supervised, env=fleet_environment(settings), stdout=log, stderr=subprocess.STDOUT, timeout=60
            )

    events = [record["event"] for record in _records(log_path)]
    assert done.returncode == DATABASE_UNUSABLE, tail(log_path)
    assert events.count("supervised command started") == 1, tail(log_path)
    assert "the database cannot hold docfleet's schema: not consuming" in events
    assert "supervised command cannot start" in events
