"""The Procfile, docker-compose.yml and Dockerfile agree with each other and with the settings docfleet reads.

No Docker engine is needed: the files are parsed, not run.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from dramatiq.cli import make_argument_parser

from adapters.rabbitmq.confirmed_channel import CLOSE_TIMEOUT_S
from workers.audit import AuditOptions
from workers.cli.stuck import STOPPING_STUCK_AFTER_S, WATCH_EVERY_S
from workers.consumer import CLOSE_WAIT_S
from workers.metrics import tally
from workers.middleware.envelope import READ_LIMIT_BYTES
from workers.relay import RelayOptions
from workers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
_SHELL_VAR = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::-(?P<default>[^}]*))?\}")
# Under honcho a crashed worker or relay is restarted by `docfleet supervise`; under compose, by the
# restart policy, so the services run the supervised command itself: the worker under a supervisor that
# restarts nothing but kills a Dramatiq main process stuck for good.
SUPERVISED = "docfleet supervise --restart always -- "
WATCHED = "docfleet supervise --restart never -- "
GRACE_MARGIN_S = 5.0  # beyond a process's longest clean stop, before a SIGKILL


class _RecordingEnviron(dict[str, str]):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


@pytest.fixture
def settings_names(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The environment variables ``Settings.from_env`` reads, found by watching it read them."""
    environ = _RecordingEnviron()
    monkeypatch.setattr(os, "environ", environ)
    Settings.from_env()
    assert environ.read, "Settings.from_env read no environment variable"
    # PORT is the Procfile runner's, a fallback for WORKER_METRICS_PORT; compose sets the latter.
    return environ.read - {"PORT"}


@pytest.fixture(scope="module")
def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _app_services(compose: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The services that run docfleet's own image, as opposed to Postgres, Valkey and RabbitMQ."""
    for name, service in compose["services"].items():
        if "build" in service:
            yield name, service


def _shell_command(service: Mapping[str, Any]) -> str:
    """The command as a shell would run it: ``sh -c "exec ..."`` unwrapped and ``$$`` unescaped."""
    command = service["command"]
    if isinstance(command, str):
        command = shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return str(command[2]).replace("$$", "$").removeprefix("exec ").strip()
    return shlex.join(command)


def _unsupervised(command: str) -> str:
    assert command.startswith(SUPERVISED), f"{command!r} does not run under `docfleet supervise`"
    return command.removeprefix(SUPERVISED)


def test_the_procfile_runs_the_worker_and_the_relay_supervised(procfile: dict[str, str]) -> None:
    assert set(procfile) >= {"worker", "relay"}
    assert procfile["relay"] == f"{SUPERVISED}docfleet relay"
    assert _unsupervised(procfile["worker"]).startswith("docfleet worker ")


def _dramatiq_arguments(command: str) -> Any:
    """The worker command as Dramatiq parses it (``docfleet worker`` runs ``workers.actors`` with the
    options given), each variable at its default."""
    program, *args = shlex.split(_SHELL_VAR.sub(lambda match: match.group("default") or "1", command))
    assert program == "docfleet"
    assert args[:1] == ["worker"]
    return make_argument_parser().parse_args(["workers.actors", *args[1:]])  # type: ignore[no-untyped-call]


def test_the_worker_command_is_one_dramatiq_accepts(procfile: dict[str, str]) -> None:
    parsed = _dramatiq_arguments(_unsupervised(procfile["worker"]))
    assert parsed.broker == "workers.actors"
    assert "${WORKER_PROCESSES:-" in procfile["worker"]
    assert "${WORKER_THREADS:-" in procfile["worker"]


def test_the_relay_and_supervise_commands_exist_in_the_cli() -> None:
    from typer.main import get_command

    from workers.cli.app import app

    assert {"relay", "migrate", "supervise"} <= set(get_command(app).commands)  # type: ignore[attr-defined]


def test_compose_has_the_infrastructure_with_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["valkey"]["image"].startswith("valkey/valkey:8")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3-management")
    for name in ("postgres", "valkey", "rabbitmq"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"


def test_postgres_is_healthy_only_once_it_answers_over_tcp(compose: dict[str, Any]) -> None:
    """The image's first boot runs a server on its Unix socket only; migrate connects over TCP."""
    check = " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    assert "pg_isready -h 127.0.0.1" in check


def test_rabbitmq_has_a_fixed_hostname_so_its_volume_outlives_the_container(compose: dict[str, Any]) -> None:
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["hostname"], "RabbitMQ stores its data under rabbit@<hostname>"
    assert any(volume.endswith(":/var/lib/rabbitmq") for volume in rabbitmq["volumes"])


def test_compose_rabbitmq_refuses_publishes_too_large_for_a_worker_to_read(compose: dict[str, Any]) -> None:
    """The content itself is tried on a RabbitMQ node in tests/integration/test_rabbitmq_message_size.py."""
    (mounted,) = compose["services"]["rabbitmq"]["configs"]
    assert mounted["target"].startswith("/etc/rabbitmq/conf.d/")  # the official image reads every file there
    assert rabbitmq_limits(compose) == f"max_message_size = {READ_LIMIT_BYTES}\n"


def rabbitmq_limits(compose: Mapping[str, Any]) -> str:
    (mounted,) = compose["services"]["rabbitmq"]["configs"]
    return str(compose["configs"][mounted["source"]]["content"])


def test_compose_runs_the_procfile_commands(compose: dict[str, Any], procfile: dict[str, str]) -> None:
    services = compose["services"]
    assert _shell_command(services["worker"]) == WATCHED + _unsupervised(procfile["worker"])
    assert _shell_command(services["relay"]) == _unsupervised(procfile["relay"])
    assert _shell_command(services["migrate"]) == "docfleet migrate"


def test_worker_and_relay_start_after_a_successful_migration_and_restart(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "relay"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["valkey"]["condition"] == "service_healthy"
        assert depends_on["rabbitmq"]["condition"] == "service_healthy"
        assert services[name]["restart"] == "unless-stopped"


def test_app_services_set_exactly_the_variables_docfleet_reads(
    compose: dict[str, Any], procfile: dict[str, str], settings_names: set[str]
) -> None:
    procfile_names = {match.group("name") for match in _SHELL_VAR.finditer(" ".join(procfile.values()))}
    app_services = dict(_app_services(compose))
    assert set(app_services) == {"migrate", "worker", "relay", "audit"}
    for name, service in app_services.items():
        environment = set(service["environment"])
        assert environment <= settings_names | procfile_names, f"{name} sets variables nobody reads"
        assert settings_names <= environment, f"{name} leaves settings at their localhost defaults"
    worker_command_names = set(_SHELL_VAR.findall(_shell_command(app_services["worker"])))
    assert {name for name, _ in worker_command_names} <= set(app_services["worker"]["environment"])


def test_the_audit_consumer_is_a_procfile_entry_and_an_opt_in_compose_service(
    compose: dict[str, Any], procfile: dict[str, str]
) -> None:
    audit = compose["services"]["audit"]
    assert _unsupervised(procfile["audit"]) == "docfleet audit", "restarted, not stopping the fleet with it"
    assert _shell_command(audit) == _unsupervised(procfile["audit"])
    assert audit["profiles"] == ["audit"]
    assert audit["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert audit["restart"] == "unless-stopped"


def test_compose_uses_no_host_interpolation(compose: dict[str, Any]) -> None:
    """``${...}`` would be filled from the host's shell; the containers' variables are set explicitly."""
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"(?<!\$)\$\{", text)


def test_the_image_is_python_311_slim_with_docfleet_installed() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install (--no-deps )?\.", dockerfile, re.MULTILINE)


def _grace_seconds(service: Mapping[str, Any]) -> float:
    match = re.fullmatch(r"(\d+)s", str(service["stop_grace_period"]))
    assert match, "in seconds, such as 60s"
    return float(match.group(1))


def _worker_s_longest_clean_stop(command: str) -> float:
    parsed = _dramatiq_arguments(command)
    consumers = 4  # each queue's and its delay queue's
    # Dramatiq waits that long for the threads, then for the consumers
    joins: float = 2 * parsed.worker_shutdown_timeout / 1000
    return joins + consumers * CLOSE_WAIT_S + tally.STOP_TIMEOUT_S


def test_the_supervisor_waits_out_a_worker_s_longest_clean_stop_before_killing_what_is_left(
    procfile: dict[str, str],
) -> None:
    """After a stuck main process was killed its worker processes that were up drain on their own: a
    SIGKILL mid-drain loses the acks of committed messages (sent again: duplicates)."""
    from workers.cli.restart_policy import RestartPolicy

    longest = _worker_s_longest_clean_stop(_unsupervised(procfile["worker"]))
    assert RestartPolicy().orphans_grace >= longest + GRACE_MARGIN_S


def test_compose_waits_out_each_process_s_longest_clean_stop_before_killing_it(
    compose: dict[str, Any],
) -> None:
    """A SIGKILL mid-stop loses the acks of committed messages (sent again: duplicates), republishes a
    batch of events, and counts a death for each message delivered again that was running."""
    services = compose["services"]
    # The supervisor may first find Dramatiq's main process stuck (3 s once stopping, looking once a
    # second), then give its worker processes their drain.
    found_stuck = STOPPING_STUCK_AFTER_S + WATCH_EVERY_S
    watched = _shell_command(services["worker"]).removeprefix(WATCHED)
    worker = found_stuck + _worker_s_longest_clean_stop(watched)
    relay_options = RelayOptions()
    relay = 2 * relay_options.statement_timeout_ms / 1000 + relay_options.publish_timeout + CLOSE_TIMEOUT_S
    audit = 2 * AuditOptions().statement_timeout_ms / 1000  # its batch in hand and the one prefetched
    for name, longest in (("worker", worker), ("relay", relay), ("audit", audit)):
        assert _grace_seconds(services[name]) >= longest + GRACE_MARGIN_S, name
