"""``docfleet health``: each service reachable, the schema at head, the relay keeping up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.failures import ExitCode, first_line, load_settings
from workers.cli.output import add_row, console, counted, print_json, table
from workers.service_urls import location
from workers.settings import Settings

if TYPE_CHECKING:
    import pika

PROBE_TIMEOUT_SECONDS = 5
OVER_TLS = " over TLS"  # what a service's row adds when its connection is encrypted
HEALTH = "docfleet-health"  # what its connections are named, in Postgres and in RabbitMQ
NO_DATABASE = "no such database: run docfleet migrate, which creates it"
_CERTIFICATE_OPTIONS = {
    "Postgres": "DATABASE_URL (sslcert, sslkey)",
    "Valkey": "VALKEY_URL (ssl_certfile, ssl_keyfile)",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def register(app: typer.Typer) -> None:
    app.command(short_help="Check the services, the schema, the relay and the workers.")(health)


def health(
    max_relay_lag: Annotated[
        float, typer.Option(min=0.0, help="Seconds the oldest unpublished event may wait.")
    ] = 30.0,
    max_dead_letters: Annotated[
        int | None,
        typer.Option(
            min=0, help="Fail when more messages than this wait dead-lettered [default: not checked]."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check Postgres, Valkey and RabbitMQ are reachable, the schema is at head, the relay keeps up and
    a worker consumes each command queue; with --max-dead-letters, that dead letters do not pile up.

    Exit 0 only when every check holds, 5 otherwise.

    \b
    Examples:
      docfleet health --max-relay-lag 60
      docfleet health --max-dead-letters 0 --json    # for monitoring: any dead letter fails it
    """
    checks = run_checks(load_settings(), max_relay_lag, max_dead_letters)
    if as_json:
        print_json([asdict(check) for check in checks])
    else:
        grid = table("check", "status", "detail")
        for check in checks:
            add_row(grid, [check.name, "ok" if check.ok else "FAILED", check.detail])
        console().print(grid)
    if not all(check.ok for check in checks):
        raise typer.Exit(ExitCode.UNHEALTHY)


def run_checks(settings: Settings, max_relay_lag: float, max_dead_letters: int | None = None) -> list[Check]:
    database = settings.database_url
    postgres = _check("Postgres", database, lambda: _postgres(database))
    if postgres.ok:
        schema = _check("schema", database, lambda: _schema(database))
        lag = _check("relay lag", database, lambda: _relay_lag(database, max_relay_lag))
    else:
        schema, lag = (
            Check(name, False, "not checked: the Postgres check failed") for name in ("schema", "relay lag")
        )
    valkey = _check("Valkey", settings.valkey_url, lambda: _valkey(settings.valkey_url))
    rabbitmq = _rabbitmq_checks(settings.amqp_url, max_dead_letters, settings.audit_queue)
    return [postgres, schema, lag, valkey, *rabbitmq]


def _check(name: str, url: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, detail = probe()
    except Exception as error:  # a failed probe is the answer, whatever it raised
        said = first_line(error)
        return Check(name, False, f"{location(url)}: {said}{_certificate_hint(name, said)}")
    return Check(name, ok, detail)


def _certificate_hint(name: str, said: str) -> str:
    """Where to name a client certificate, when a server refused a connection for want of one (RabbitMQ's
    row says it as its other failures, in ``connection_failure``)."""
    options = _CERTIFICATE_OPTIONS.get(name)
    asked = options is not None and "certificate required" in said.replace("_", " ").lower()
    return f" (the server requires a client certificate: name one in {options})" if asked else ""


def _postgres(database_url: str) -> tuple[bool, str]:
    import psycopg
    from sqlalchemy import make_url

    from adapters.postgres.engine import libpq_conninfo, with_application_name

    started = time.monotonic()
    try:
        named = with_application_name(make_url(database_url), HEALTH)
        connection = psycopg.connect(libpq_conninfo(named), connect_timeout=PROBE_TIMEOUT_SECONDS)
    except psycopg.OperationalError as error:
        from adapters.postgres.migrations import is_missing  # with alembic: only when it is needed

        if not _timed_out(error, started) and is_missing(database_url):
            return False, f"{location(database_url)}: {NO_DATABASE}"
        raise
    with connection:
        version = connection.execute("SHOW server_version").fetchone()
        over = OVER_TLS if connection.pgconn.ssl_in_use else ""  # sslmode=prefer may have gone without
    server = version[0] if version else "?"
    server = server.decode(errors="replace") if isinstance(server, bytes) else server  # SQL_ASCII's answer
    return True, f"{location(database_url)} reachable{over} (server {server})"


def _timed_out(error: Exception, started: float) -> bool:
    """Whether the probe gave up on a silent server, which would not say whether the database exists
    either. psycopg 3.3 names the timeout; an older one is known by the time the probe took."""
    import psycopg

    timeout = getattr(psycopg.errors, "ConnectionTimeout", None)
    if timeout is not None:
        return isinstance(error, timeout)
    return time.monotonic() - started >= PROBE_TIMEOUT_SECONDS - 0.5


def _schema(database_url: str) -> tuple[bool, str]:
    from adapters.postgres.database_encoding import OtherEncoding
    from adapters.postgres.schema_revisions import UnknownRevision, is_at_head

    try:
        if is_at_head(database_url, statement_timeout_ms=PROBE_TIMEOUT_SECONDS * 1000):
            return True, "at the latest migration"
    except (UnknownRevision, OtherEncoding) as unusable:
        return False, str(unusable)
    return False, "behind the latest migration: run docfleet migrate"


def _relay_lag(database_url: str, max_relay_lag: float) -> tuple[bool, str]:
    """The two reads the relay's gauges make, by index, and whether a relay holds its lock (one that is
    down fails the check at once, not only once events wait longer than the limit), each given
    ``PROBE_TIMEOUT_SECONDS``: a lock on the outbox must not leave the probe waiting without an answer."""
    from adapters.postgres.engine import single_use_engine
    from adapters.postgres.outbox import OutboxStore
    from adapters.postgres.relay_connections import relay_is_leading

    with single_use_engine(
        database_url, statement_timeout_ms=PROBE_TIMEOUT_SECONDS * 1000, application_name=HEALTH
    ) as engine:
        store = OutboxStore(engine)
        age, pending = store.oldest_pending_age_seconds(), store.pending_count()
        leading = relay_is_leading(engine)
    waiting = "no event waits to be published"
    if age is not None:
        waiting = (
            f"{counted(pending, 'event')} waiting, the oldest for {age:.1f} s (limit {max_relay_lag:g} s)"
        )
    if not leading:
        return (
            False,
            f"{waiting}; no relay holds its lock on this database: none is running, or it is starting over"
            " after an error (its log: relay error, starting over); start docfleet relay if none runs",
        )
    return age is None or age <= max_relay_lag, waiting


def _valkey(valkey_url: str) -> tuple[bool, str]:
    import valkey

    from adapters.valkey.client import single_client

    client = single_client(valkey_url, timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()  # type: ignore[no-untyped-call]
    over = OVER_TLS if issubclass(client.connection_pool.connection_class, valkey.SSLConnection) else ""
    return True, f"{location(valkey_url)} reachable{over}"


def _rabbitmq_checks(amqp_url: str, max_dead_letters: int | None, audit_queue: str) -> list[Check]:
    """``RabbitMQ`` (a connection opens) and, on that connection, ``workers``, then ``dead letters`` when
    there is a limit, then ``audit`` where the audit queue exists."""
    import pika

    from adapters.rabbitmq.connection_failures import connection_failure
    from adapters.rabbitmq.queue_states import QueueStates
    from workers.cli.health_audit import audit_consumed
    from workers.cli.health_workers import dead_letters_within, workers_consume

    names = ["workers"] if max_dead_letters is None else ["workers", "dead letters"]
    try:
        connection = _open_probe_connection(amqp_url)
    except Exception as error:  # a failed probe is the answer, whatever it raised
        failed = Check("RabbitMQ", False, f"{location(amqp_url)}: {connection_failure(error)}")
        return [failed, *(Check(name, False, "not checked: the RabbitMQ check failed") for name in names)]
    over = OVER_TLS if pika.URLParameters(amqp_url).ssl_options is not None else ""  # it opened: TLS held
    with QueueStates(connection) as states:
        checks = [_check("workers", amqp_url, lambda: workers_consume(states))]
        if max_dead_letters is not None:
            limit = max_dead_letters
            checks.append(_check("dead letters", amqp_url, lambda: dead_letters_within(states, limit)))
        checks += _audit_check(amqp_url, lambda: audit_consumed(states, audit_queue))
    return [Check("RabbitMQ", True, f"{location(amqp_url)} reachable{over}"), *checks]


def _audit_check(amqp_url: str, probe: Callable[[], tuple[bool, str] | None]) -> list[Check]:
    """The ``audit`` check, or none where no audit consumer was ever deployed (no queue to look at)."""
    try:
        found = probe()
    except Exception as error:  # a failed probe is the answer, whatever it raised
        return [Check("audit", False, f"{location(amqp_url)}: {first_line(error)}")]
    return [] if found is None else [Check("audit", *found)]


def _open_probe_connection(amqp_url: str) -> pika.BlockingConnection:
    """A connection that gives up on a silent broker within the probe's timeout while it opens, and
    within four of them after: a blocking call has no timeout of its own, but the heartbeat's check
    (every timeout + 5 s) ends a connection that received nothing since the check before."""
    import pika

    from adapters.rabbitmq.connection import connection_parameters

    parameters = connection_parameters(amqp_url, name=HEALTH)
    parameters.socket_timeout = parameters.stack_timeout = PROBE_TIMEOUT_SECONDS
    parameters.heartbeat = PROBE_TIMEOUT_SECONDS
    parameters.connection_attempts = 1
    return pika.BlockingConnection(parameters)
