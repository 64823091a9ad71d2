"""``docfleet health`` and ``docfleet outbox status`` on a database of the test's own."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from typer.testing import Result

from tests.cli.support import one_line_error, publish_raw, run
from tests.support.services import default_settings, throwaway_database, unique_name
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def own_settings(settings: Settings, fresh_database_url: str) -> Iterator[Settings]:
    """A database of the test's own, where a relay stands by: it holds the publishing relay's lock."""
    from adapters.postgres.engine import create_single_use_engine
    from adapters.postgres.relay_connections import RelayLeadership

    engine = create_single_use_engine(fresh_database_url)
    try:
        with RelayLeadership(engine) as relay:
            assert relay.acquire()
            yield dataclasses.replace(settings, database_url=fresh_database_url)
    finally:
        engine.dispose()


@contextmanager
def outbox_locked(database_url: str) -> Iterator[threading.Timer]:
    """A transaction holding the outbox's strongest lock, let go after 30 s at most (a bound, were the
    command to wait on it: the timer still alive says it did not), and at the block's end."""
    import psycopg

    from adapters.postgres.engine import libpq_conninfo

    locker = psycopg.connect(libpq_conninfo(database_url))
    locker.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
    released = threading.Timer(30.0, locker.rollback)
    released.start()
    try:
        yield released
    finally:
        released.cancel()
        locker.rollback()
        locker.close()


def add_outbox_rows(
    database_url: str, *, pending_ages: list[float], published_ages: list[float], kind: str = "MemberAdded"
) -> None:
    """Outbox rows created that many seconds ago, unpublished, or published that many seconds ago."""
    from adapters.postgres.engine import create_single_use_engine
    from adapters.postgres.tables import outbox

    rows = [{"created_at": func.now() - timedelta(seconds=age), "published_at": None} for age in pending_ages]
    rows += [
        {"created_at": func.now(), "published_at": func.now() - timedelta(seconds=age)}
        for age in published_ages
    ]
    engine = create_single_use_engine(database_url)
    try:
        with engine.begin() as connection:
            for row in rows:
                event = {"event_id": str(uuid.uuid4()), "type": kind, "routing_key": "member.added"}
                connection.execute(insert(outbox).values(**event, payload={}, **row))
    finally:
        engine.dispose()


def checks(result_stdout: str) -> dict[str, bool]:
    return {check["name"]: check["ok"] for check in json.loads(result_stdout)}


CHECKS = ("Postgres", "schema", "relay lag", "Valkey", "RabbitMQ", "workers")


def details(result_stdout: str) -> dict[str, str]:
    return {check["name"]: check["detail"] for check in json.loads(result_stdout)}


def test_health_is_0_when_everything_holds(own_settings: Settings, worker: None) -> None:
    table = run(own_settings, "health")
    as_json = run(own_settings, "health", "--json")

    assert table.exit_code == 0, table.output
    for name in CHECKS:
        assert name in table.stdout
    assert "FAILED" not in table.stdout
    assert checks(as_json.stdout) == dict.fromkeys(CHECKS, True)
    assert details(as_json.stdout)["workers"] == (
        "documents: 1 consumer, 0 waiting; documents-queries: 1 consumer, 0 waiting"
    )
    plain = [details(as_json.stdout)[service] for service in ("Postgres", "RabbitMQ", "Valkey")]
    assert not [detail for detail in plain if "TLS" in detail], "these services are reached in plain"


def test_health_fails_while_no_worker_has_declared_the_queues(own_settings: Settings) -> None:
    result = run(own_settings, "health", "--json")

    assert result.exit_code == 5
    assert {name for name, ok in checks(result.stdout).items() if not ok} == {"workers"}
    assert details(result.stdout)["workers"].startswith(
        "documents: not declared, no worker has started on this virtual host; documents-queries: not declared"
    )


def test_health_fails_while_commands_wait_with_no_consumer_and_counts_dead_letters(
    own_settings: Settings,
) -> None:
    publish_raw(own_settings.amqp_url, "documents", b"{}", b"{}")
    publish_raw(own_settings.amqp_url, "documents-queries.XQ", b"{}")

    result = run(own_settings, "health", "--json")

    assert result.exit_code == 5
    assert details(result.stdout)["workers"] == (
        "documents: no consumer, 2 waiting: is a worker running?; "
        "documents-queries: no consumer, 0 waiting: is a worker running?; 1 dead letter (docfleet dlq ls)"
    )


def test_dead_letters_fail_health_only_over_the_limit_asked_for(own_settings: Settings, worker: None) -> None:
    publish_raw(own_settings.amqp_url, "documents.XQ", b"{}")

    unlimited = run(own_settings, "health", "--json")
    within = run(own_settings, "health", "--json", "--max-dead-letters", "1")
    over = run(own_settings, "health", "--json", "--max-dead-letters", "0")

    assert unlimited.exit_code == 0, unlimited.output
    assert "dead letters" not in checks(unlimited.stdout)
    assert within.exit_code == 0, within.output
    assert checks(within.stdout)["dead letters"] is True
    assert over.exit_code == 5
    assert {name for name, ok in checks(over.stdout).items() if not ok} == {"dead letters"}
    assert details(over.stdout)["dead letters"] == "1 dead letter, limit 0 (docfleet dlq ls)"


def test_an_unreachable_rabbitmq_fails_health_on_its_one_line(own_settings: Settings) -> None:
    result = run(own_settings, "health", AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F")

    assert result.exit_code == 5
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert "FAILED" in rows["RabbitMQ"]
    assert "127.0.0.1:1" in rows["RabbitMQ"]
    assert "guest:guest" not in result.stdout
    assert "not checked: the RabbitMQ check failed" in rows["workers"]


def test_a_malformed_amqp_url_is_one_line_exit_2(own_settings: Settings) -> None:
    result = run(own_settings, "health", AMQP_URL="http://127.0.0.1:5672/")

    assert result.exit_code == 2
    assert "invalid setting: AMQP_URL: expected a URL such as amqp://" in one_line_error(result)


def test_a_database_without_the_schema_fails_health() -> None:
    with throwaway_database(default_settings().database_url) as empty:
        result = run(dataclasses.replace(default_settings(), database_url=empty), "health", "--json")

    assert result.exit_code == 5
    found = checks(result.stdout)
    del found["workers"]  # whether a worker consumes on the shared virtual host is not this test's
    assert found == {"Postgres": True, "schema": False, "relay lag": False, "Valkey": True, "RabbitMQ": True}


@pytest.mark.parametrize("command", [("outbox", "status"), ("inbox", "prune")])
def test_a_command_on_a_database_without_the_schema_says_what_makes_it(command: tuple[str, ...]) -> None:
    with throwaway_database(default_settings().database_url) as empty:
        result = run(dataclasses.replace(default_settings(), database_url=empty), *command)

    assert result.exit_code == 1
    assert one_line_error(result).endswith("(is the schema there? docfleet migrate makes it)")


def test_a_database_not_created_yet_is_named_so_with_what_creates_it() -> None:
    base = default_settings()
    missing = make_url(base.database_url).set(database=unique_name("docfleet_test_missing"))
    settings = dataclasses.replace(base, database_url=missing.render_as_string(hide_password=False))

    result = run(settings, "health", "--json")

    assert result.exit_code == 5
    [postgres] = [check for check in json.loads(result.stdout) if check["name"] == "Postgres"]
    assert postgres["detail"].endswith("no such database: run docfleet migrate, which creates it")


def test_health_fails_at_once_when_no_relay_is_running(settings: Settings, fresh_database_url: str) -> None:
    """Nothing waits yet, so the lag alone would say nothing until events had waited past the limit."""
    result = run(dataclasses.replace(settings, database_url=fresh_database_url), "health", "--json")

    assert result.exit_code == 5
    assert not checks(result.stdout)["relay lag"]
    assert details(result.stdout)["relay lag"] == (
        "no event waits to be published; no relay holds its lock on this database: none is running, or it"
        " is starting over after an error (its log: relay error, starting over); start docfleet relay if"
        " none runs"
    )


def test_relay_lag_over_the_limit_fails_health(own_settings: Settings) -> None:
    add_outbox_rows(own_settings.database_url, pending_ages=[120.0, 5.0], published_ages=[])

    lagging = run(own_settings, "health", "--max-relay-lag", "60", "--json")
    tolerated = run(own_settings, "health", "--max-relay-lag", "600", "--json")

    assert lagging.exit_code == 5
    assert not checks(lagging.stdout)["relay lag"]
    assert checks(tolerated.stdout)["relay lag"]


def test_outbox_status_counts_pending_and_recently_published_events(own_settings: Settings) -> None:
    add_outbox_rows(  # published in the order of their seq, as the relay publishes them
        own_settings.database_url, pending_ages=[90.0, 1.0], published_ages=[600.0, 30.0, 10.0, 5.0]
    )

    as_json = run(own_settings, "outbox", "status", "--json")
    table = run(own_settings, "outbox", "status")

    status = json.loads(as_json.stdout)
    assert (status["pending"], status["published_last_minute"]) == (2, 3)
    assert 89.0 <= status["oldest_pending_age_seconds"] < 150.0
    assert status["published_per_second"] == 0.05
    assert "pending events" in table.stdout
    assert "3 (0.1/s)" in table.stdout


def test_outbox_status_gives_up_on_a_locked_outbox_after_healths_probe_time(own_settings: Settings) -> None:
    """A migration or a long transaction holding the outbox: it waited as long as the lock lasted."""
    with outbox_locked(own_settings.database_url) as lock:
        result = run(own_settings, "outbox", "status")
        held = lock.is_alive()

    assert held, "it answered only once the lock was let go"
    assert result.exit_code == 1
    assert "canceling statement due to statement timeout" in one_line_error(result)


def test_outbox_status_with_postgres_down_is_one_line_exit_1(own_settings: Settings) -> None:
    result = run(own_settings, "outbox", "status", DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/x")

    assert result.exit_code == 1
    assert "Postgres at 127.0.0.1:1/x" in one_line_error(result)


def test_outbox_status_gives_up_on_a_postgres_that_accepts_and_never_answers(own_settings: Settings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody ever answers
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/x"  # 10 s to give up
        results: list[Result] = []
        command = threading.Thread(
            target=lambda: results.append(run(own_settings, "outbox", "status", DATABASE_URL=url)),
            daemon=True,  # if it hangs, the test fails without holding the run open
        )
        command.start()
        command.join(30)

    assert not command.is_alive(), "outbox status hung on a silent server"
    assert results[0].exit_code == 1
    assert "Postgres at 127.0.0.1:" in one_line_error(results[0])


def test_health_gives_up_on_a_silent_postgres_after_its_probe_alone(own_settings: Settings) -> None:
    """The probe's 5 s, not another 10 s asking the same silent server whether the database exists."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/x"
        started = time.monotonic()
        result = run(own_settings, "health", "--json", DATABASE_URL=url)
        took = time.monotonic() - started

    assert result.exit_code == 5
    assert checks(result.stdout)["Postgres"] is False
    assert took < 12, f"{took:.1f} s: the probe (5 s) and a lookup (10 s) one after the other"


def outbox_rows(database_url: str) -> tuple[int, int]:
    """(unpublished, published) rows in the outbox."""
    from adapters.postgres.engine import create_single_use_engine
    from adapters.postgres.tables import outbox

    engine = create_single_use_engine(database_url)
    try:
        with engine.connect() as connection:
            pending = outbox.c.published_at.is_(None)
            rows = connection.execute(select(pending, func.count()).group_by(pending)).all()
            counts = {bool(row[0]): int(row[1]) for row in rows}
    finally:
        engine.dispose()
    return counts.get(True, 0), counts.get(False, 0)


@pytest.mark.parametrize("retention", [[], ["--older-than", "7d"]], ids=["default", "given"])
def test_prune_deletes_only_the_rows_published_before_the_retention(
    own_settings: Settings, retention: list[str]
) -> None:
    day = 86_400.0
    published = [8 * day, 9 * day, 6 * day, 60]
    add_outbox_rows(own_settings.database_url, pending_ages=[30 * day], published_ages=published)

    result = run(own_settings, "outbox", "prune", *retention, "--batch-size", "1")

    assert result.exit_code == 0, result.output
    assert "deleted 2 published outbox rows" in result.stdout
    assert outbox_rows(own_settings.database_url) == (1, 2)


def test_prune_keeps_the_rejections_dead_letters_read_at_least_8_days_whatever_the_retention(
    own_settings: Settings,
) -> None:
    day = 86_400.0
    add_outbox_rows(own_settings.database_url, pending_ages=[], published_ages=[2 * day, 2 * day])
    rejections = [2 * day, 7.5 * day, 9 * day]
    add_outbox_rows(
        own_settings.database_url, pending_ages=[], published_ages=rejections, kind="CommandRejected"
    )

    result = run(own_settings, "outbox", "prune", "--older-than", "1d")

    assert result.exit_code == 0, result.output
    assert "deleted 3 published outbox rows" in result.stdout, "both events, and the rejection of 9 days"
    assert outbox_rows(own_settings.database_url) == (0, 2)


def test_prune_refuses_an_age_it_cannot_read(own_settings: Settings) -> None:
    result = run(own_settings, "outbox", "prune", "--older-than", "a week")

    assert result.exit_code == 2
    assert "7d" in result.output


@pytest.mark.parametrize("age", ["36501d", "3000000d", "1000000000d"])
def test_prune_refuses_an_age_beyond_a_century(own_settings: Settings, age: str) -> None:
    result = run(own_settings, "outbox", "prune", "--older-than", age)

    assert result.exit_code == 2
    assert "at most 36500 days" in result.output


def test_health_answers_in_time_while_a_transaction_locks_the_outbox(
    own_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of its reads is given the probe's time: without that, it waited as long as the lock lasted.
    Nor does it count the events published lately, a scan of the whole outbox (`outbox status` does)."""
    from adapters.postgres import outbox_throughput

    def no_scan(*_args: object) -> int:
        raise AssertionError("health read the whole outbox")

    monkeypatch.setattr(outbox_throughput, "published_within", no_scan)
    with outbox_locked(own_settings.database_url):
        result = run(own_settings, "health", "--json")

    assert result.exit_code == 5, result.output
    [lag] = [check for check in json.loads(result.stdout) if check["name"] == "relay lag"]
    assert not lag["ok"]
    assert "statement timeout" in lag["detail"]


def test_prune_starts_each_batch_after_the_last_row_the_one_before_deleted(own_settings: Settings) -> None:
    """From the lowest seq again, each batch would walk past every row deleted so far, which Postgres
    cannot drop while another snapshot is open: the prune slowed down as the square of its rows."""
    from sqlalchemy import event

    from adapters.postgres.engine import single_use_engine
    from adapters.postgres.outbox_retention import prune_published

    day = 86_400.0
    add_outbox_rows(own_settings.database_url, pending_ages=[], published_ages=[9 * day] * 7)
    starts: list[int] = []
    with single_use_engine(own_settings.database_url) as engine:

        def note_start(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
            if statement.lstrip().startswith("WITH doomed"):
                starts.append(parameters["after"])

        event.listen(engine, "before_cursor_execute", note_start)
        deleted = prune_published(engine, timedelta(days=7), batch_size=3)

    assert deleted == 7
    assert starts[0] == 0
    assert starts[1] > starts[0]
    assert starts[2] > starts[1]


def test_prune_refuses_a_batch_larger_than_one_short_transaction(own_settings: Settings) -> None:
    result = run(own_settings, "outbox", "prune", "--batch-size", "100001")

    assert result.exit_code == 2
