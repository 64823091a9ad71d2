"""A DATABASE_URL's own ``options`` reach every connection docfleet opens, after docfleet's defaults."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, make_url

from adapters.postgres.engine import (
    LIVENESS,
    SESSION_OPTIONS,
    create_engine,
    create_single_use_engine,
    libpq_conninfo,
    session_options,
)
from adapters.postgres.outbox import OutboxListener, RelayLeadership

pytestmark = pytest.mark.integration

_OWN_OPTIONS = "-c statement_timeout=4321 -c timezone=Asia/Tokyo"


@pytest.fixture
def engine_with_options(database_url: str) -> Iterator[Engine]:
    url = make_url(database_url).update_query_dict({"options": _OWN_OPTIONS})
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    yield engine
    engine.dispose()


def _settings(connection: psycopg.Connection[Any]) -> tuple[str, str, str, str]:
    row = connection.execute(
        "SELECT current_setting('statement_timeout'), current_setting('timezone'),"
        " current_setting('plan_cache_mode'), current_setting('synchronous_commit')"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def test_the_urls_options_come_after_the_defaults() -> None:
    url = "postgresql://u@h/db?options=-c%20search_path%3Ddocs"
    assert session_options(url) == f"{SESSION_OPTIONS} -c search_path=docs"
    assert session_options(url, "") == "-c search_path=docs"
    assert session_options("postgresql://u@h/db") == SESSION_OPTIONS


def test_a_pooled_connection_keeps_the_defaults_the_url_does_not_override(
    engine_with_options: Engine,
) -> None:
    with engine_with_options.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        timeout, timezone, plans, _ = _settings(raw)
    assert (timeout, timezone) == ("4321ms", "Asia/Tokyo")  # the URL's, one of them over a default
    assert plans == "force_custom_plan"  # the default the URL does not name


def test_the_relay_leaders_connection_takes_the_urls_options_too(engine_with_options: Engine) -> None:
    with RelayLeadership(engine_with_options, lock_key=secrets.randbits(62)) as leadership:
        assert leadership.acquire()
        timeout, timezone, plans, commit = _settings(leadership.connection())
    assert (timeout, timezone) == ("4321ms", "Asia/Tokyo")
    assert (plans, commit) == ("force_custom_plan", "off")


def test_the_relay_listeners_connection_takes_the_urls_options(engine_with_options: Engine) -> None:
    listener = OutboxListener(engine_with_options)
    try:
        timeout, timezone, _, _ = _settings(listener._connection)
    finally:
        listener.close()
    assert (timeout, timezone) == ("4321ms", "Asia/Tokyo")


def test_the_server_drops_a_vanished_relays_session_within_half_a_minute(engine_with_options: Engine) -> None:
    """The leadership lock lasts as long as the leader's session: the server must probe its client."""
    with RelayLeadership(engine_with_options, lock_key=secrets.randbits(62)) as leadership:
        assert leadership.acquire()
        row = (
            leadership.connection()
            .execute(
                "SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),"
                " current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout')"
            )
            .fetchone()
        )
    assert row == ("10", "5", "3", "25000")


def test_a_statement_timeout_given_to_the_engine_is_a_default_the_url_can_override(database_url: str) -> None:
    plain = create_engine(database_url, pool_size=1, statement_timeout_ms=250)
    overridden_url = make_url(database_url).update_query_dict({"options": _OWN_OPTIONS})
    overridden = create_engine(
        overridden_url.render_as_string(hide_password=False), pool_size=1, statement_timeout_ms=250
    )
    try:
        timeouts = []
        for engine in (plain, overridden):
            with engine.connect() as connection:
                raw = connection.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                timeouts.append(_settings(raw)[0])
    finally:
        plain.dispose()
        overridden.dispose()
    assert timeouts == ["250ms", "4321ms"]


def test_a_worker_command_waiting_on_a_lock_fails_as_a_fault_instead_of_holding_its_thread(
    database_url: str, valkey_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dramatiq's time limit cannot interrupt a thread waiting in the driver; Postgres cancels it."""
    from domain.commands import AddMember
    from tests.workers.support import wired_settings
    from workers import bootstrap

    monkeypatch.setattr(bootstrap, "WORKER_STATEMENT_TIMEOUT_MS", 300)
    app = bootstrap.Application.from_settings(wired_settings(database_url, valkey_url, key_prefix), threads=2)
    command = AddMember(org_id=f"org-{secrets.token_hex(4)}", user_id="u")
    raised: list[BaseException] = []

    def add_member() -> None:
        try:
            app.execute(command, message_id=secrets.token_hex(8), actor="add_member")
        except Exception as error:
            raised.append(error)

    locker = psycopg.connect(libpq_conninfo(database_url))
    worker = threading.Thread(target=add_member)
    try:
        locker.execute("LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE")
        worker.start()
        worker.join(10.0)  # the lock is held until the end: only the statement timeout can end the wait
        still_waiting = worker.is_alive()
    finally:
        locker.close()
        worker.join()
        app.close()
    assert not still_waiting
    assert [type(error) for error in raised] == [psycopg.errors.QueryCanceled]


def _client_parameters(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        return raw.info.get_parameters()


def test_pooled_connections_give_up_on_a_server_gone_silent(database_url: str) -> None:
    """Keepalives and a limit on unacknowledged data: the client's own, as statement_timeout is the
    server's, which cannot enforce it once unreachable."""
    engine = create_engine(database_url, pool_size=1)
    try:
        parameters = _client_parameters(engine)
    finally:
        engine.dispose()
    assert {name: parameters.get(name) for name in LIVENESS} == {
        name: str(value) for name, value in LIVENESS.items()
    }


def test_one_off_connections_give_up_on_a_server_gone_silent_too(database_url: str) -> None:
    """The CLI's and the migrations' engine: a prune run daily must not hang on a stalled server."""
    engine = create_single_use_engine(database_url)
    try:
        parameters = _client_parameters(engine)
    finally:
        engine.dispose()
    expected = {name: str(value) for name, value in LIVENESS.items()} | {"connect_timeout": "10"}
    assert {name: parameters.get(name) for name in expected} == expected


def test_the_urls_own_keepalive_settings_win(database_url: str) -> None:
    url = make_url(database_url).update_query_dict({"keepalives_idle": "42"})
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        parameters = _client_parameters(engine)
    finally:
        engine.dispose()
    assert parameters["keepalives_idle"] == "42"
    assert parameters["tcp_user_timeout"] == str(LIVENESS["tcp_user_timeout"])


@pytest.mark.parametrize("own", ["0", "30000"])
def test_a_probes_statement_timeout_wins_over_the_urls_own(database_url: str, own: str) -> None:
    """`docfleet health` reads within its bound whatever the URL says: 0 would wait on a lock for good."""
    url = make_url(database_url).update_query_dict({"options": f"-c statement_timeout={own}"})
    engine = create_single_use_engine(url.render_as_string(hide_password=False), statement_timeout_ms=1234)
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            timeout, *_ = _settings(raw)
    finally:
        engine.dispose()
    assert timeout == "1234ms"
