"""Helpers for the metrics tests (no tests here): a fleet of two worker processes with metrics on free
ports, its metrics directory under the test's own TMPDIR, and scrapes of its endpoints."""

from __future__ import annotations

import dataclasses
import subprocess
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pika
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.fleet import BIN, ROOT, STOP_WITHIN_S, consumers, fleet_environment, stop_fleet, tail
from tests.support.processes import free_port
from tests.support.services import default_settings, throwaway_settings
from tests.support.waiting import wait_for
from workers.metrics.fleet_run import ROOT_NAME
from workers.settings import Settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
QUEUES = ("documents", "documents-queries")


@dataclass(frozen=True)
class MetricsFleet:
    settings: Settings
    worker_port: int
    relay_port: int
    tmpdir: Path
    log: Path
    root_pid: int = 0  # honcho's, once started

    def run_dirs(self) -> list[Path]:
        root = self.tmpdir / ROOT_NAME
        return sorted(path for path in root.iterdir() if path.is_dir()) if root.exists() else []


@contextmanager
def own_services() -> Iterator[Settings]:
    """A database, vhost and key prefix of the caller's own: the relay then publishes only what it causes."""
    with throwaway_settings(default_settings()) as settings:
        yield settings


@contextmanager
def metrics_fleet(settings: Settings, workdir: Path, *, enabled: bool = True) -> Iterator[MetricsFleet]:
    """``honcho start -f Procfile worker relay`` with two worker processes; ready when both consume."""
    fleet = MetricsFleet(settings, free_port(), free_port(), workdir / "tmp", workdir / "fleet.log")
    fleet.tmpdir.mkdir(exist_ok=True)
    (workdir / "empty.env").write_text("")
    environment = {
        **fleet_environment(settings),
        "WORKER_PROCESSES": "2",
        "WORKER_THREADS": "2",
        "METRICS_ENABLED": "true" if enabled else "false",
        "WORKER_METRICS_PORT": str(fleet.worker_port),
        "RELAY_METRICS_PORT": str(fleet.relay_port),
        "TMPDIR": str(fleet.tmpdir),
    }
    command = [
        str(BIN / "honcho"),
        "start",
        "-f",
        "Procfile",
        "-e",
        str(workdir / "empty.env"),
        "worker",
        "relay",
    ]
    with fleet.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    fleet = dataclasses.replace(fleet, root_pid=process.pid)
    try:
        _wait_until_ready(process, fleet, metrics=enabled)
        yield fleet
    finally:
        seconds = stop_fleet(process)
        assert seconds <= STOP_WITHIN_S, f"the fleet took {seconds:.1f} s to stop; see {fleet.log}"


def _wait_until_ready(
    process: subprocess.Popen[bytes], fleet: MetricsFleet, *, metrics: bool, timeout: float = 60.0
) -> None:
    """Both worker processes consume, the relay leads and, with metrics on, both endpoints answer: a
    fleet registers its consumers before its metrics process listens."""

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the fleet exited with {process.returncode}:\n{tail(fleet.log)}")
        counts = consumers(fleet.settings.amqp_url)
        both = all(counts.get(queue, 0) == 2 for queue in QUEUES)
        serving = not metrics or (_answers(fleet.worker_port) and _answers(fleet.relay_port))
        return both and b"relay is the leader" in fleet.log.read_bytes() and serving

    wait_for(ready, timeout, f"the fleet to be ready:\n{tail(fleet.log)}")


def _answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True


def scrape(port: int) -> Samples:
    """Every sample the endpoint serves, keyed by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return _samples(text_string_to_metric_families(text))


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 for a labelled series not created yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def message_deltas(before: Samples, after: Samples, **labels: str) -> dict[str, float]:
    """What the four message counters of these labels gained between the scrapes."""
    names = {
        "processed": "docfleet_messages_processed_total",
        "failed": "docfleet_messages_failed_total",
        "retried": "docfleet_messages_retried_total",
        "dead": "docfleet_messages_dead_lettered_total",
    }
    return {short: delta(before, after, name, **labels) for short, name in names.items()}


def serves_both_processes(fleet: MetricsFleet) -> bool:
    try:
        return value(scrape(fleet.worker_port), "docfleet_worker_processes") == 2
    except OSError:
        return False


def publish_raw(amqp_url: str, body: bytes) -> None:
    """A body straight onto the ``documents`` queue, as a producer that ignores the contract would."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        channel.basic_publish("", "documents", body, properties, mandatory=True)
    finally:
        connection.close()


def per_process(run_dir: Path, name: str, **labels: str) -> dict[int, float]:
    """The value each worker process wrote to its own counter file, by pid."""
    counts = {}
    for path in run_dir.glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts[int(path.stem.split("_")[1])] = value(_samples(merged), name, **labels)
    return counts


def _samples(families: Iterable[Metric]) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }
