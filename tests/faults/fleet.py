"""The fleet under test: the real Procfile's worker and relay under honcho, with test hooks where asked.

The harness writes a Procfile of its own, derived line by line from the real one: the worker's command
(``docfleet worker``, Dramatiq's on ``workers.actors``) may get hook modules to load after that one, and
the relay's command may be replaced by a test wrapper; everything else (``docfleet supervise``, the
arguments, the defaults) stays as it is.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.fleet import BIN, ROOT, fleet_environment, stop_fleet, tail
from tests.faults.hooks.files import HOOKS_DIR_ENV
from tests.faults.hooks.names import TRIGGERS
from tests.faults.procs import is_relay
from tests.support.processes import children, descendants, is_dramatiq_main
from tests.support.rabbitmq import consumer_count
from workers.settings import Settings

WORKER_COMMAND = "docfleet worker"  # its own module, workers.actors, then any given after it
QUEUES = ("documents", "documents-queries")


@dataclass(frozen=True)
class FleetShape:
    processes: int = 1
    threads: int = 8
    worker_hooks: Sequence[str] = ()
    relay_command: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


def derived_procfile(shape: FleetShape) -> str:
    """The real Procfile's worker and relay lines, with the shape's hooks."""
    lines = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name == "worker" and shape.worker_hooks:
            assert WORKER_COMMAND in command, f"the worker is not `{WORKER_COMMAND}`: {line}"
            command = command.replace(WORKER_COMMAND, " ".join((WORKER_COMMAND, *shape.worker_hooks)), 1)
        if name == "relay" and shape.relay_command is not None:
            supervisor, separator, _ = command.partition(" -- ")
            assert separator, f"the relay does not run under `docfleet supervise`: {line}"
            command = f"{supervisor} -- {shape.relay_command}"
        if name in ("worker", "relay"):
            lines.append(f"{name}:{command}")
    return "\n".join(lines) + "\n"


@dataclass
class Fleet:
    process: subprocess.Popen[bytes]
    settings: Settings
    workdir: Path
    shape: FleetShape

    @property
    def log(self) -> Path:
        return self.workdir / "fleet.log"

    @property
    def hooks(self) -> Path:
        return self.workdir / "hooks"

    def worker_processes(self) -> list[int]:
        """The Dramatiq worker processes (children of Dramatiq's main process) now running."""
        mains = [pid for pid in descendants(self.process.pid) if is_dramatiq_main(pid)]
        return [child for main in mains for child in children(main)]

    def relay_process(self) -> int | None:
        return next((pid for pid in descendants(self.process.pid) if is_relay(pid)), None)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def outcome_lines(self, outcome: str) -> list[dict[str, Any]]:
        """The fleet's log lines of that outcome, read as JSON once honcho's prefix is taken off."""
        lines = (line.partition("| ")[2] for line in self.log_text().splitlines())
        records = (json.loads(line) for line in lines if line.startswith("{"))
        return [record for record in records if record.get("outcome") == outcome]

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the worker processes run and consume both queues and the relay leads."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the fleet exited:\n{tail(self.log)}"
            workers_up = len(self.worker_processes()) >= self.shape.processes
            leading = self.log_text().count("relay is the leader") > self.log_text().count("relay stopped")
            if workers_up and leading and all(consumer_count(self.settings.amqp_url, q) for q in QUEUES):
                return
            time.sleep(0.3)
        raise AssertionError(f"the fleet was not ready within {timeout} s:\n{tail(self.log)}")


@contextmanager
def running_fleet(settings: Settings, workdir: Path, shape: FleetShape) -> Iterator[Fleet]:
    """``honcho start -f <derived Procfile> worker relay`` from the repository root; stopped at exit."""
    (workdir / "hooks").mkdir(exist_ok=True)
    procfile, env_file = workdir / "Procfile", workdir / "empty.env"
    procfile.write_text(derived_procfile(shape))
    env_file.write_text("")  # so that a developer's .env cannot redirect the fleet
    command = [str(BIN / "honcho"), "start", "-f", str(procfile), "-d", str(ROOT), "-e", str(env_file)]
    with (workdir / "fleet.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "worker", "relay"],
            cwd=ROOT,
            env=_environment(settings, workdir, shape),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield Fleet(process, settings, workdir, shape)
        finally:
            for trigger in TRIGGERS:  # a scenario that failed halfway may have left a process held
                (workdir / "hooks" / trigger).unlink(missing_ok=True)
            stop_fleet(process)


def _environment(settings: Settings, workdir: Path, shape: FleetShape) -> dict[str, str]:
    return {
        **fleet_environment(settings),
        "PYTHONPATH": str(ROOT),  # the hooks live in the tests package
        "WORKER_PROCESSES": str(shape.processes),
        "WORKER_THREADS": str(shape.threads),
        "METRICS_ENABLED": "false",  # no port to collide with other fleets on this machine
        HOOKS_DIR_ENV: str(workdir / "hooks"),
        **shape.environment,
    }
