"""Helpers of the CLI tests: the ``docfleet`` app run in-process on the test's services, queue probes."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from typer.testing import CliRunner, Result

from adapters.rabbitmq.dead_letters import DeadLetterQueues
from adapters.rabbitmq.queue_publisher import OutgoingMessage, QueuePublisher
from workers.cli.app import app
from workers.client.envelopes import contract_queues
from workers.settings import Settings


def environment(settings: Settings) -> dict[str, str]:
    """The variables the workers read, pointed at the test's services; wide tables for assertions."""
    return {
        "DATABASE_URL": settings.database_url,
        "VALKEY_URL": settings.valkey_url,
        "AMQP_URL": settings.amqp_url,
        "CACHE_PREFIX": settings.cache_prefix,
        "COLUMNS": "200",
    }


def run(settings: Settings, *args: str, **overrides: str) -> Result:
    """``docfleet ARGS`` through typer's CliRunner, with the settings as environment variables. The
    logging the command set up is undone after it: its handler writes to the runner's stream, closed
    once the command ends, and a library's later line there would land in another test's output."""
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()
    try:
        return CliRunner().invoke(app, list(args), env={**environment(settings), **overrides})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**structlog_config)


def one_line_error(result: Result) -> str:
    """The single stderr line of an expected failure; fails the test if there is a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("docfleet: "), lines[0]
    return lines[0]


def ready_count(amqp_url: str, queue: str) -> int | None:
    with DeadLetterQueues(amqp_url, name="test-probe") as queues:
        return queues.count(queue)


def bodies(amqp_url: str, queue: str) -> list[dict[str, Any]]:
    """The messages of a queue as JSON, left where they are."""
    with DeadLetterQueues(amqp_url, name="test-probe") as queues:
        return [json.loads(letter.body) for letter in queues.browse(queue)]


def envelope(
    actor: str, kwargs: Mapping[str, Any], queue: str = "documents", **options: Any
) -> dict[str, Any]:
    return {
        "queue_name": queue,
        "actor_name": actor,
        "args": [],
        "kwargs": dict(kwargs),
        "options": options,
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }


def publish_raw(amqp_url: str, queue: str, *bodies: bytes) -> list[str]:
    """Publishes bodies as any producer could, bypassing the client's validation; the contract's queues
    (dead-letter queues included) are declared first. The AMQP ``message_id`` properties it set."""
    with QueuePublisher(amqp_url, declare=contract_queues(), name="test-raw") as publisher:
        messages = [OutgoingMessage(queue, str(uuid.uuid4()), body) for body in bodies]
        assert publisher.publish(messages) == []
    return [message.message_id for message in messages]


def encoded(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields).encode()


def is_member(database_url: str, org: str, user: str) -> bool:
    from sqlalchemy import select

    from adapters.postgres.engine import create_single_use_engine
    from adapters.postgres.tables import memberships

    engine = create_single_use_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(memberships).where(memberships.c.org_id == org, memberships.c.user_id == user)
            return connection.execute(query).first() is not None
    finally:
        engine.dispose()
