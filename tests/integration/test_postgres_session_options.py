"""A DATABASE_URL's own ``options`` reach every connection docfleet opens, after docfleet's defaults."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, make_url

from adapters.postgres.engine import SESSION_OPTIONS, create_engine, session_options
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
