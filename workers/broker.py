"""The Dramatiq broker of a docfleet process, built and set as the global broker on first import.

Import this module before any actor (``workers.actors`` does). ``DOCFLEET_BROKER=stub`` builds a
StubBroker instead of the RabbitMQ one, for wiring tests. Building connects to nothing: RabbitMQ,
Postgres and Valkey are reached on first use, Postgres and Valkey only once a worker boots.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.middleware import (
    CurrentMessage,
    Middleware,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.results.backend import ResultBackend
from dramatiq.results.backends.redis import RedisBackend

from adapters.rabbitmq.connection import CONNECTION_DEFAULTS, client_properties
from adapters.valkey.client import single_client
from workers.bootstrap import Application
from workers.consumer import ScreeningRabbitmqBroker
from workers.contract import COMMANDS_QUEUE, QUERIES_QUEUE
from workers.hook_dispatch import OwnHooksOnly
from workers.middleware import (
    EnvelopeEncoder,
    OpenApplication,
    Resources,
    docfleet_middleware,
    quiet_replaced_lines,
)
from workers.middleware.answers import AnswersBeforeAck
from workers.middleware.retries import CountNotFound, RetriesOrDeadLetter
from workers.schema_gate import require_schema
from workers.settings import InvalidSettings, Settings

BROKER_ENV = "DOCFLEET_BROKER"
DEFAULT_TIME_LIMIT_MS = 60_000


def build_broker(
    settings: Settings,
    *,
    stub: bool = False,
    open_application: OpenApplication | None = None,
    results_backend: ResultBackend | None = None,
    freeze_boot_objects: bool = False,
) -> dramatiq.Broker:
    """A broker with docfleet's middleware, then Dramatiq's; JSON messages only (never pickle).

    ``freeze_boot_objects``: only for the broker of Dramatiq's own worker processes (this module's
    ``broker``), never one a test runs a worker on inside its own process."""
    dramatiq.set_encoder(EnvelopeEncoder())
    quiet_replaced_lines([COMMANDS_QUEUE, QUERIES_QUEUE])
    # The Application built from the settings is checked against the database's schema first; one a
    # test gives is its own.
    check_ready = None if open_application else partial(require_schema, settings.database_url)
    resources = Resources(open_application or _opener(settings), check_ready=check_ready)
    backend = results_backend or results_backend_for(settings)
    middleware = [
        *docfleet_middleware(
            resources,
            log_level=None if stub else settings.log_level,
            metrics=settings.metrics_enabled and not stub,
            freeze_boot_objects=freeze_boot_objects and not stub,
        ),
        *standard_middleware(backend, settings.result_ttl_ms),
    ]
    if stub:
        return OwnHooksStubBroker(middleware=middleware)
    rabbitmq = ScreeningRabbitmqBroker(
        url=with_connection_defaults(settings.amqp_url), confirm_delivery=True, middleware=middleware
    )
    # Named as the CLI's and the relay's connections are, so that an operator of a shared RabbitMQ finds
    # a worker process's consumers and publishers among the others.
    rabbitmq.parameters.client_properties = client_properties(f"docfleet-worker pid {os.getpid()}")
    return rabbitmq


class OwnHooksStubBroker(OwnHooksOnly, StubBroker):
    """The wiring tests' broker, dispatching hooks as the RabbitMQ one does."""


def standard_middleware(backend: ResultBackend, result_ttl_ms: int) -> list[Middleware]:
    """Dramatiq's middleware that docfleet's messages use, in Dramatiq's default order, then
    CurrentMessage and Results (answers stored by the query actor itself, before the ack:
    ``workers.middleware.answers``).

    Retries retries nothing unless the actor says so: every docfleet actor declares its own policy.
    AgeLimit, Callbacks and Pipelines are left out: they act only on the options ``max_age``,
    ``on_success``, ``on_failure`` and ``pipe_target``, which no docfleet actor sets and an envelope
    that carries them is unreadable (docs/contract.md); each would still run for every message.
    """
    return [
        TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
        ShutdownNotifications(),
        RetriesOrDeadLetter(max_retries=0),
        CountNotFound(),  # after Retries: its hook runs first, and tells the policy a NotFound's count
        CurrentMessage(),
        AnswersBeforeAck(backend=backend, result_ttl=result_ttl_ms),  # type: ignore[no-untyped-call]
    ]


def results_backend_for(settings: Settings) -> ResultBackend:
    """Query results in Valkey under ``<cache_prefix>results:<queue>:<actor>:<message_id>``. A hung
    Valkey fails the query's attempt after 5 s (it is retried), never holds its worker thread for good."""
    client = single_client(settings.valkey_url, timeout=5)
    return RedisBackend(  # type: ignore[no-untyped-call]
        client=client,
        namespace=f"{settings.cache_prefix}results",
        encoder=JSONEncoder(),
        use_namespace_prefix_keys=True,
    )


def with_connection_defaults(amqp_url: str) -> str:
    """The URL with a heartbeat and a bound on waiting out a resource alarm (a publish RabbitMQ blocks,
    a retry's: the connection is given up, the message retried), unless it sets them already."""
    parts = urlsplit(amqp_url)
    query = parse_qsl(parts.query)
    given = {name for name, _ in query}
    query += [(name, str(value)) for name, value in CONNECTION_DEFAULTS.items() if name not in given]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _opener(settings: Settings) -> OpenApplication:
    def open_application(threads: int) -> Application:
        return Application.from_settings(settings, threads=threads)

    return open_application


def _settings_or_exit() -> Settings:
    """The settings; with a bad one, one line and exit 2 (what Dramatiq gives a module it cannot import),
    rather than a traceback from each worker process."""
    try:
        return Settings.from_env()
    except InvalidSettings as error:
        sys.stderr.write(f"docfleet: invalid setting: {error}\n")
        raise SystemExit(2) from None


broker = build_broker(
    _settings_or_exit(), stub=os.environ.get(BROKER_ENV) == "stub", freeze_boot_objects=True
)
if isinstance(broker, StubBroker):
    broker.emit_after("process_boot")
dramatiq.set_broker(broker)
