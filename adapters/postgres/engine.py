"""The SQLAlchemy engine every unit of work checks its connection out of, always on psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, NullPool, make_url
from sqlalchemy import create_engine as _sa_create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import PoolProxiedConnection

PSYCOPG_DRIVER = "postgresql+psycopg"
# Statements are prepared once per connection, but planned on every execution with their parameters: a
# generic plan made while a table was nearly empty (a new deployment, a benchmark) scans the whole table
# once it has grown, until the next ANALYZE. Measured on 20,000 documents: 2,000 shares took 7.4 s with
# the generic plans made at the start, 1.7 s planned each time. A transaction's commit statement is the
# exception: it sets generic plans, with sequential scans off, for itself (``commit_statement``).
SESSION_OPTIONS = "-c timezone=UTC -c plan_cache_mode=force_custom_plan"
DEFAULT_APPLICATION_NAME = "docfleet"
_ACCEPTED_DRIVERS = frozenset({"postgres", "postgresql", PSYCOPG_DRIVER})


def normalize_url(database_url: str | URL) -> URL:
    """The URL with its driver set to psycopg 3; any other database or driver is refused."""
    url = make_url(database_url)
    if url.drivername not in _ACCEPTED_DRIVERS:
        raise ValueError(f"expected a postgresql:// or postgresql+psycopg:// URL, got {url.drivername}://")
    return url.set(drivername=PSYCOPG_DRIVER)


def libpq_conninfo(database_url: str | URL) -> str:
    """The URL as a libpq connection string, for connections kept outside the pool.

    Built from the URL's parts rather than rendered as a URL again: SQLAlchemy writes a space in a query
    value as ``+``, which libpq keeps, so ``?options=-c%20x%3D1`` would reach Postgres as ``-c+x=1``.
    """
    url = make_url(database_url)
    parts: dict[str, str | int | None] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    for name, value in url.query.items():
        parts[name] = ",".join(value) if isinstance(value, tuple) else value
    return make_conninfo("", **{name: value for name, value in parts.items() if value is not None})


def session_options(database_url: str | URL, defaults: str = SESSION_OPTIONS) -> str:
    """``defaults``, then the URL's own ``options``. Postgres keeps the last value given for a setting,
    so the URL's win where both name one, and the defaults it does not name still hold."""
    own = make_url(database_url).query.get("options")
    own_text = " ".join(own) if isinstance(own, tuple) else own
    return f"{defaults} {own_text}".strip() if own_text else defaults


def connect_timeout_default(database_url: str | URL, seconds: int = 10) -> dict[str, int]:
    """``connect_timeout`` as a keyword argument, unless the URL sets its own."""
    return {} if "connect_timeout" in make_url(database_url).query else {"connect_timeout": seconds}


# TCP keepalives, and a limit on data the server has not acknowledged: a connection whose server or network
# went away (a failover, a dropped route) fails within about half a minute, its command then retried, rather
# than waiting as long as the kernel retransmits, a quarter of an hour. Postgres's statement_timeout cannot:
# the server that would enforce it is the one that is gone.
LIVENESS = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms
}


def liveness_defaults(database_url: str | URL) -> dict[str, int]:
    """``LIVENESS`` as keyword arguments, but for those the URL sets itself."""
    own = make_url(database_url).query
    return {name: value for name, value in LIVENESS.items() if name not in own}


def with_application_name(url: URL, name: str) -> URL:
    """The URL naming its connections ``name`` in ``pg_stat_activity`` and the server's log, so that a
    DBA can tell a worker's from the relay's or a one-off command's. libpq uses a fallback name only
    where neither the URL's ``application_name`` nor ``PGAPPNAME`` gives one, so an operator's wins."""
    if "fallback_application_name" in url.query:
        return url
    return url.update_query_dict({"fallback_application_name": name})


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    pre_ping: bool = True,
    statement_timeout_ms: int | None = None,
    application_name: str = DEFAULT_APPLICATION_NAME,
) -> Engine:
    """A pooled engine for ``pool_size`` threads, each running its own units of work.

    ``statement_timeout_ms``: Postgres cancels a statement that runs (or waits on a lock) longer. The URL's
    own ``options`` can still set another.

    With ``pre_ping``, connections are checked before use (a restarted server costs one failed ping, not a
    failed command); without, that ping's round trip is saved and a broken connection fails its first use
    (the unit of work then discards it, and the message is retried). Connections are recycled every half
    hour, give up connecting after 10 seconds, fail within about half a minute once their server is gone
    (``LIVENESS``), and their sessions use UTC and custom plans (``SESSION_OPTIONS``). The URL's own
    ``connect_timeout`` and keepalive settings win; its ``options`` come after these (``session_options``).
    Its connections, and those made from its URL outside the pool, are named ``application_name``
    (``with_application_name``).
    """
    url = with_application_name(normalize_url(database_url), application_name)
    connect_args = {
        "options": session_options(url, with_statement_timeout(SESSION_OPTIONS, statement_timeout_ms)),
        **connect_timeout_default(url),
        **liveness_defaults(url),
    }
    return _sa_create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=30,
        pool_recycle=1800,
        pool_pre_ping=pre_ping,
        pool_use_lifo=True,
        connect_args=connect_args,
    )


def create_single_use_engine(
    database_url: str,
    *,
    statement_timeout_ms: int | None = None,
    application_name: str = DEFAULT_APPLICATION_NAME,
) -> Engine:
    """An engine without a pool, for one-off work such as migrations and the CLI's. Like the pooled
    ones, its connections give up on a server that accepts but never answers (``connect_timeout``) or
    goes away (``LIVENESS``): a prune run daily must not hang for good. ``statement_timeout_ms``, for a
    probe that must answer in time: Postgres cancels a statement that runs, or waits on a lock, longer.
    It comes after the URL's own options, so that one of theirs (0, or 30 s) cannot lift the bound."""
    url = with_application_name(normalize_url(database_url), application_name)
    connect_args: dict[str, Any] = {**connect_timeout_default(url), **liveness_defaults(url)}
    if statement_timeout_ms is not None:
        connect_args["options"] = with_statement_timeout(session_options(url, ""), statement_timeout_ms)
    return _sa_create_engine(url, poolclass=NullPool, connect_args=connect_args)


def with_statement_timeout(options: str, statement_timeout_ms: int | None) -> str:
    """Session ``options`` with Postgres's statement timeout added, when there is one."""
    if statement_timeout_ms is None:
        return options
    return f"{options} -c statement_timeout={int(statement_timeout_ms)}".strip()


@contextmanager
def single_use_engine(
    database_url: str,
    *,
    statement_timeout_ms: int | None = None,
    application_name: str = DEFAULT_APPLICATION_NAME,
) -> Iterator[Engine]:
    """``create_single_use_engine``, disposed of when the block ends, however it ends."""
    engine = create_single_use_engine(
        database_url, statement_timeout_ms=statement_timeout_ms, application_name=application_name
    )
    try:
        yield engine
    finally:
        engine.dispose()


def psycopg_connection(pooled: PoolProxiedConnection) -> psycopg.Connection[Any]:
    """The psycopg connection behind a connection checked out with ``engine.raw_connection()``."""
    connection = pooled.driver_connection
    if not isinstance(connection, psycopg.Connection):
        raise TypeError(f"expected a psycopg connection, the pool gave {type(connection).__name__}")
    return connection


def return_to_pool(pooled: PoolProxiedConnection) -> None:
    """Gives a raw checkout back to the pool out of autocommit, rolled back first if a transaction is
    still open (a failure, or a unit of work left without commit); a connection that broke, or is left
    in no known state, is discarded rather than returned."""
    connection = psycopg_connection(pooled)
    try:
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            connection.rollback()
        connection.autocommit = False
    except Exception:  # a failed rollback leaves the connection in no known state
        connection.close()
    if connection.broken or connection.closed:
        pooled.invalidate()
    pooled.close()
