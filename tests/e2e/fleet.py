"""The fleet as ``make run`` starts it (honcho, the Procfile's worker and relay), and a client beside it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import dramatiq

from adapters.rabbitmq.subscription import EventSubscription, ReceivedEvent
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STOP_WITHIN_S = 30.0
QUEUES = ("documents", "documents-queries")
Matcher = Callable[[dict[str, Any]], bool]
REFUSALS = ("CommandRejected", "ShareDenied")


def fleet_environment(settings: Settings) -> dict[str, str]:
    """This process's environment, pointed at the test's database, vhost and key prefix."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": settings.database_url,
        "VALKEY_URL": settings.valkey_url,
        "AMQP_URL": settings.amqp_url,
        "CACHE_PREFIX": settings.cache_prefix,
        "LOG_LEVEL": "INFO",
        "WORKER_PROCESSES": "1",
        "WORKER_THREADS": "4",
        "PYTHONUNBUFFERED": "1",
    }


def started(command: list[str], settings: Settings, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``command`` from the repository, on ``settings``, its output in ``log``, in a session (and process
    group) of its own, which a test can stop whole."""
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=fleet_environment(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextmanager
def running_fleet(
    settings: Settings, workdir: Path, processes: Sequence[str] = ("worker", "relay")
) -> Iterator[subprocess.Popen[bytes]]:
    """``honcho start -f Procfile worker relay`` (or ``processes``), output in ``workdir/fleet.log``;
    SIGTERM at exit."""
    empty_env_file = workdir / "empty.env"  # so that a developer's .env cannot redirect the fleet
    empty_env_file.write_text("")
    log = (workdir / "fleet.log").open("wb")
    command = [str(BIN / "honcho"), "start", "-f", "Procfile", "-e", str(empty_env_file), *processes]
    process = started(command, settings, log)
    try:
        yield process
    finally:
        seconds = stop_fleet(process)
        log.close()
        assert seconds <= STOP_WITHIN_S, (
            f"the fleet took {seconds:.1f} s to stop; see {workdir / 'fleet.log'}"
        )


def stop_fleet(process: subprocess.Popen[bytes]) -> float:
    """Sends SIGTERM and waits; kills the whole group if it is still there after the limit."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            return float("inf")
    return time.monotonic() - started


def wait_until_ready(
    process: subprocess.Popen[bytes], amqp_url: str, log_path: Path, timeout: float = 60.0
) -> None:
    """Until the worker consumes both queues and the relay leads; fails at once if the fleet exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the fleet exited with {process.returncode}:\n{tail(log_path)}")
        counts = consumers(amqp_url)
        if (
            all(counts.get(queue, 0) > 0 for queue in QUEUES)
            and b"relay is the leader" in log_path.read_bytes()
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"the fleet was not ready within {timeout} s:\n{tail(log_path)}")


def consumers(amqp_url: str) -> dict[str, int]:
    """The consumer count of each queue of the URL's vhost."""
    vhost = unquote(urlsplit(amqp_url).path.removeprefix("/")) or "/"
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "consumers"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rows = (line.split("\t") for line in listing.splitlines() if "\t" in line)
    return {name: int(count) for name, count in rows}


def tail(log_path: Path, lines: int = 40) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


class Client:
    """Sends commands as a producer would, through a Dramatiq broker on the test's vhost, and keeps every
    event its tap received, so that looking for one event never loses another."""

    def __init__(
        self, broker: dramatiq.Broker, actors: Mapping[str, dramatiq.Actor[..., Any]], tap: EventSubscription
    ) -> None:
        self.broker = broker
        self.actors = actors
        self.tap = tap
        self.received: list[ReceivedEvent] = []

    def send(self, actor_name: str, **kwargs: Any) -> dramatiq.Message[Any]:
        return self.actors[actor_name].send(**kwargs)

    def events(self, matches: Matcher, count: int = 1, timeout: float = 30.0) -> list[ReceivedEvent]:
        """Every event received so far that ``matches``, once there are ``count`` or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while len(found := [e for e in self.received if matches(e.payload())]) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = self.tap.next_event(remaining)
            if event is not None:
                self.received.append(event)
        return found

    def perform(self, actor_name: str, expected: str, **kwargs: Any) -> ReceivedEvent:
        """Sends a command and returns the event it caused, which must be of the ``expected`` type."""

        def matches(body: dict[str, Any]) -> bool:
            return body.get("type") in (expected, *REFUSALS) and _caused_by(body, kwargs)

        before = len(self.events(matches, count=0, timeout=0))
        message = self.send(actor_name, **kwargs)
        found = self.events(matches, count=before + 1)
        assert len(found) > before, f"no event for {actor_name} {message.message_id} within the deadline"
        assert found[before].type == expected, found[before].payload()
        return found[before]


def _caused_by(body: Mapping[str, Any], kwargs: Mapping[str, Any]) -> bool:
    """Whether the event is about what the command names (its document, folder or user, in its org)."""
    for key, field in (("doc_id", "document_id"), ("folder_id", "folder_id"), ("user_id", "user_id")):
        if key in kwargs:
            return body.get(field) == kwargs[key] and (
                "org_id" not in kwargs or body.get("org_id") == kwargs["org_id"]
            )
    return False


def outcomes_of(log_path: Path, message_id: str, count: int, timeout: float = 30.0) -> list[str]:
    """The outcomes the fleet logged for ``message_id``, in the log's order, once there are ``count``
    of them or ``timeout`` passed: proof that each copy of a message was handled, not merely unseen."""
    deadline = time.monotonic() + timeout
    while True:
        outcomes = [
            record["outcome"]
            for record in _json_records(log_path.read_text(errors="replace"))
            if record.get("message_id") == message_id and "outcome" in record
        ]
        if len(outcomes) >= count or time.monotonic() > deadline:
            return outcomes
        time.sleep(0.1)


def _json_records(text: str) -> Iterator[dict[str, Any]]:
    """The JSON lines of a log, each once honcho's prefix (time, process name, "| ") is taken off."""
    for line in text.splitlines():
        _, bar, rest = line.partition("| ")
        candidate = rest if bar else line
        if candidate.startswith("{"):
            try:
                yield json.loads(candidate)
            except ValueError:
                continue  # a line still being written
