"""The ``docfleet`` command as a newcomer uses it: help with examples, one-line failures, demo and tail."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.rabbitmq.publisher import EventPublisher
from tests.e2e.fleet import BIN, ROOT, fleet_environment
from workers.settings import Settings

DOCFLEET = str(BIN / "docfleet")


def run_docfleet(
    args: list[str], env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCFLEET, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "example"),
    [
        (["migrate"], "docfleet migrate"),
        (["relay"], "docfleet relay --batch-size"),
        (["demo"], "docfleet demo"),
        (["events", "tail"], "docfleet events tail --pattern"),
    ],
)
def test_each_command_explains_itself_with_an_example(args: list[str], example: str) -> None:
    done = run_docfleet([*args, "--help"], fleet_environment(Settings.from_env()))

    assert done.returncode == 0
    assert "Example" in done.stdout
    assert example in done.stdout


@pytest.mark.parametrize(
    ("args", "overrides", "expected"),
    [
        (
            ["migrate"],
            {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/docfleet"},
            "Postgres at 127.0.0.1:1",
        ),
        (["events", "tail"], {"AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}, "RabbitMQ at 127.0.0.1:1"),
        (["demo"], {"AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}, "RabbitMQ at 127.0.0.1:1"),
        (["migrate"], {"DATABASE_URL": "mysql://root@localhost/docfleet"}, "invalid setting: DATABASE_URL"),
        (["relay"], {"CACHE_TTL_SECONDS": "soon"}, "invalid setting"),
        (["relay", "--batch-size", "0"], {}, "error: Invalid value for '--batch-size'"),
        (["relay", "--poll-interval", "60"], {}, "error: Invalid value for '--poll-interval'"),
        (["events", "tail", "--count", "many"], {}, "error: Invalid value for '--count'"),
        (["publish"], {}, "error: No such command 'publish'"),
    ],
)
def test_expected_failures_are_one_line_on_stderr_and_a_nonzero_exit(
    args: list[str], overrides: dict[str, str], expected: str
) -> None:
    env = {**fleet_environment(Settings.from_env()), **overrides}
    done = run_docfleet(args, env, timeout=30.0)

    assert done.returncode != 0
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("docfleet: ")
    assert expected in done.stderr
    assert "guest:guest" not in done.stderr


@pytest.mark.e2e
def test_migrate_on_a_fresh_server_creates_the_database_then_migrates_it(fleet_settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    from adapters.postgres.migrations import is_at_head
    from tests.support.services import unique_name

    url = make_url(fleet_settings.database_url).set(database=unique_name("docfleet_test"))
    fresh = url.render_as_string(hide_password=False)
    settings = dataclasses.replace(fleet_settings, database_url=fresh)
    try:
        done = run_docfleet(["migrate"], fleet_environment(settings))
        assert done.returncode == 0, done.stderr
        assert "created the database" in done.stdout
        assert is_at_head(fresh)
    finally:
        import psycopg

        admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@pytest.mark.e2e
def test_migrate_on_a_database_at_head_changes_nothing(fleet_settings: Settings) -> None:
    done = run_docfleet(["migrate"], fleet_environment(fleet_settings))

    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


@pytest.mark.e2e
def test_migrate_on_a_database_a_newer_release_migrated_changes_nothing_and_succeeds(
    fleet_settings: Settings,
) -> None:
    """As after a rollback: under compose the workers start only once this step has succeeded."""
    import psycopg

    from adapters.postgres.engine import libpq_conninfo
    from tests.support.services import migrated_database

    with migrated_database() as url:
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as connection:
            connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        done = run_docfleet(
            ["migrate"], fleet_environment(dataclasses.replace(fleet_settings, database_url=url))
        )
        with psycopg.connect(libpq_conninfo(url)) as connection:
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()

    assert done.returncode == 0, done.stderr
    assert "9999_from_the_future, which this version does not know" in done.stderr
    assert "nothing changed: this version's workers run on it" in done.stderr
    assert revision == ("9999_from_the_future",)


@pytest.mark.e2e
def test_demo_runs_the_scenario_on_the_fleet_and_prints_the_document_shared(
    fleet: None, fleet_settings: Settings
) -> None:
    done = run_docfleet(["demo", "--timeout", "30"], fleet_environment(fleet_settings), timeout=180.0)

    assert done.returncode == 0, done.stderr
    assert "share_document" in done.stdout
    printed = json.loads(done.stdout.split("DocumentShared received:", 1)[1])
    assert (printed["type"], printed["role"]) == ("DocumentShared", "viewer")
    assert printed["shared_with"].startswith("bob-")


@pytest.mark.e2e
@pytest.mark.parametrize("as_json", [False, True])
def test_events_tail_prints_one_line_per_event(
    fleet_settings: Settings, tmp_path: Path, as_json: bool
) -> None:
    user = f"erin-{uuid.uuid4().hex[:8]}"
    args = ["events", "tail", "--pattern", "member.#", "--count", "1", *(["--json"] if as_json else [])]
    out = (tmp_path / "tail.out").open("w+")
    tail = subprocess.Popen([DOCFLEET, *args], cwd=ROOT, env=fleet_environment(fleet_settings), stdout=out)
    try:
        _publish_until_exit(tail, fleet_settings.amqp_url, user)
    finally:
        if tail.poll() is None:
            tail.kill()
        tail.wait(10)
    out.seek(0)
    lines = out.read().splitlines()
    out.close()

    assert tail.returncode == 0
    assert len(lines) == 1
    if as_json:
        assert json.loads(lines[0])["user_id"] == user
    else:
        assert " member.added " in lines[0]
        assert f"user_id={user}" in lines[0]


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_events_tail_stopped_by_a_signal_exits_0_with_what_it_printed(
    fleet_settings: Settings, tmp_path: Path, signum: signal.Signals
) -> None:
    """A supervisor's SIGTERM is a stop asked for, as Ctrl-C is: not a failure (exit 143 before)."""
    user = f"faye-{uuid.uuid4().hex[:8]}"
    out_path = tmp_path / "tail.out"
    with out_path.open("w") as out:
        args = [DOCFLEET, "events", "tail", "--pattern", "member.#"]
        tail = subprocess.Popen(args, cwd=ROOT, env=fleet_environment(fleet_settings), stdout=out)
    try:
        _publish_until_printed(tail, out_path, fleet_settings.amqp_url, user)
        tail.send_signal(signum)
        code = tail.wait(10)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait(10)

    assert code == 0
    assert f"user_id={user}" in out_path.read_text()


def _publish_until_printed(
    tail: subprocess.Popen[bytes], out_path: Path, amqp_url: str, user: str, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    with EventPublisher(amqp_url, name="e2e-tail-feed") as publisher:
        while user not in out_path.read_text():
            assert tail.poll() is None, "tail ended before printing an event"
            assert time.monotonic() < deadline, "tail printed no event"
            publisher.publish([_member_added(user)])
            time.sleep(0.2)


@dataclasses.dataclass(frozen=True)
class _Record:
    event_id: str
    type: str
    routing_key: str
    payload: dict[str, object]


def _publish_until_exit(
    tail: subprocess.Popen[bytes], amqp_url: str, user: str, timeout: float = 30.0
) -> None:
    """Publishes MemberAdded events until tail has seen one and exited: its queue binds at some point."""
    deadline = time.monotonic() + timeout
    with EventPublisher(amqp_url, name="e2e-tail-feed") as publisher:
        while tail.poll() is None and time.monotonic() < deadline:
            publisher.publish([_member_added(user)])
            time.sleep(0.2)


def _member_added(user: str) -> _Record:
    event_id = str(uuid.uuid4())
    body = {"event_id": event_id, "type": "MemberAdded", "schema_version": 1, "org_id": "org-tail"}
    body |= {"occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "user_id": user}
    return _Record(event_id, "MemberAdded", "member.added", body)
