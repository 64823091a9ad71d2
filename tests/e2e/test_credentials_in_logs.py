"""Credentials come from the environment only, and never reach the fleet's output, even on errors:
the fleet runs with a password in each URL, meets invalid messages, refusals, a Valkey outage and dropped
RabbitMQ connections."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import valkey
from sqlalchemy.engine import make_url

from tests.e2e.fleet import running_fleet, wait_until_ready
from tests.e2e.hostile_corpus import CORPUS
from tests.e2e.hostile_messages import Hostile, encoded, envelope, invalid, renamed
from tests.e2e.hostile_probe import Cache, FleetLog, Queues
from tests.support.processes import free_port, valkey_server_or_skip
from tests.support.services import TEST_PREFIX, default_settings, throwaway_vhost, unique_name
from tests.support.waiting import wait_for
from workers.settings import Settings

pytestmark = pytest.mark.e2e
Server = subprocess.Popen[bytes]
PROVOKED = ("not_json", "unknown_actor", "forbidden_option", "sql_in_id", "non_member_creates_a_folder")


def secret(kind: str) -> str:
    return f"{kind}-pw-{uuid.uuid4().hex}"


@pytest.fixture
def private_valkey(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server of this test's own, with a password; yields it and its URL."""
    password, port = secret("valkey"), free_port()
    command = [valkey_server_or_skip(), "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password]
    command += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    try:
        wait_for(lambda: _answers(url), what="private Valkey server")
        yield server, url
    finally:
        server.terminate()
        server.wait(30)


def _answers(url: str) -> bool:
    client = valkey.Valkey.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except valkey.ConnectionError:
        return False
    finally:
        client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def amqp_url_with_password() -> Iterator[str]:
    """A throwaway vhost and a user of its own, with a password."""
    user, password = f"docfleet_test_{uuid.uuid4().hex[:12]}", secret("amqp")
    with throwaway_vhost(default_settings().amqp_url) as guest_url:
        vhost = guest_url.rsplit("/", 1)[1]
        _rabbitmqctl("add_user", user, password)
        try:
            _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
            yield f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}"
        finally:
            _rabbitmqctl("delete_user", user)


def vhost_of(amqp_url: str) -> str:
    return unquote(urlsplit(amqp_url).path.removeprefix("/"))


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def settings(database_url: str, amqp_url_with_password: str, private_valkey: tuple[Server, str]) -> Settings:
    """Trust authentication lets Postgres ignore the password; it is in the URL all the same."""
    database = make_url(database_url).set(password=secret("postgres")).render_as_string(hide_password=False)
    return dataclasses.replace(
        default_settings(),
        database_url=database,
        amqp_url=amqp_url_with_password,
        valkey_url=private_valkey[1],
        cache_prefix=f"{unique_name(TEST_PREFIX)}:",  # the server and its keys go with the test
    )


def passwords(settings: Settings) -> list[str]:
    found = [
        urlsplit(url).password for url in (settings.database_url, settings.amqp_url, settings.valkey_url)
    ]
    assert all(found), "each URL must carry a password"
    return [str(password) for password in found]


def test_no_password_of_any_url_appears_in_the_fleets_output(
    settings: Settings,
    private_valkey: tuple[Server, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAY_METRICS_PORT", str(free_port()))
    log = FleetLog(tmp_path / "fleet.log")
    with running_fleet(settings, tmp_path) as process:
        wait_until_ready(process, settings.amqp_url, log.path)
        with closing(Queues(settings.amqp_url)) as queues:
            _provoke_rejections(queues, log, [renamed(entry) for entry in CORPUS if entry.name in PROVOKED])
            _provoke_a_valkey_outage(queues, log, settings, private_valkey[0])
        _rabbitmqctl("close_all_connections", "-p", vhost_of(settings.amqp_url), "provoked by a test")
        with closing(Queues(settings.amqp_url)) as queues:  # the fleet reconnects, then goes on
            _provoke_rejections(queues, log, [invalid("after_reconnect", "no_such_actor", {}, "no actor")])

    output = log.path.read_bytes()
    for password in passwords(settings):
        assert password.encode() not in output


def _provoke_rejections(queues: Queues, log: FleetLog, messages: list[Hostile]) -> None:
    for hostile in messages:
        mark = log.mark()
        queues.publish(hostile.queue, hostile.body)
        log.outcome_line(mark, hostile.message_id)


def _provoke_a_valkey_outage(queues: Queues, log: FleetLog, settings: Settings, server: Server) -> None:
    """A query answered through the private Valkey, which only the password opens; then one while it is
    down: its cache is skipped and its answer cannot be stored."""
    answered = envelope("list_folder", {"folder_id": "nowhere", "requested_by": "nobody"})
    queues.publish("documents-queries", encoded(answered))
    with closing(Cache(settings)) as cache:
        assert cache.answer(answered["message_id"])["error"]["reason"] == "not_found"
    server.terminate()
    server.wait(30)
    unanswered = envelope("list_folder", {"folder_id": "nowhere", "requested_by": "nobody"})
    mark = log.mark()
    queues.publish("documents-queries", encoded(unanswered))
    wait_for(
        lambda: _mentions(log, mark, unanswered["message_id"], "Connection refused"), what="Valkey error line"
    )


def _mentions(log: FleetLog, mark: int, message_id: str, text: str) -> bool:
    lines = (line for line in log.lines_since(mark) if line.get("message_id") == message_id)
    return any(text in json.dumps(line) for line in lines)
