"""The fleet stops on SIGTERM, as `make run` is stopped and as a container is, within 30 seconds."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.e2e.fleet import STOP_WITHIN_S, running_fleet, stop_fleet, wait_until_ready
from tests.support.waiting import wait_for
from workers.settings import Settings

pytestmark = pytest.mark.e2e

COMMANDS = 4000


def test_the_fleet_stops_within_30_seconds_of_sigterm_even_while_busy(
    fleet_settings: Settings, tmp_path: Path
) -> None:
    """The commands are queued before the fleet starts, more than it can apply by the time SIGTERM comes
    just after the first is applied: the fleet is stopped in the middle of its work."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    _queue_add_member_commands(fleet_settings, org, COMMANDS)
    with running_fleet(fleet_settings, tmp_path) as process:
        wait_until_ready(process, fleet_settings.amqp_url, tmp_path / "fleet.log")
        wait_for(lambda: _members_of(fleet_settings.database_url, org) > 0, what="a first command applied")
        seconds = stop_fleet(process)

    assert seconds <= STOP_WITHIN_S
    applied, waiting = _members_of(fleet_settings.database_url, org), _ready_in(fleet_settings, "documents")
    assert applied > 0
    assert waiting > 0, "every command was applied before SIGTERM: the fleet was not busy"
    assert applied + waiting == COMMANDS, "every command was either applied or is back on its queue"
    log = (tmp_path / "fleet.log").read_text(errors="replace")
    assert "Killing worker process" not in log, "a worker was killed instead of stopping gracefully"
    assert "sending SIGKILL" not in log, "the supervisor had to kill what did not stop in time"
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of the fleet is left behind


def _queue_add_member_commands(settings: Settings, org: str, count: int) -> None:
    from workers.actors import declare_on
    from workers.broker import build_broker

    broker = build_broker(settings)
    try:
        add_member = declare_on(broker)["add_member"]
        for n in range(count):
            add_member.send(org_id=org, user_id=f"user-{n}")
    finally:
        broker.close()


def _members_of(database_url: str, org_id: str) -> int:
    from sqlalchemy import func, select

    from adapters.postgres.engine import create_single_use_engine
    from adapters.postgres.tables import memberships

    engine = create_single_use_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(func.count()).select_from(memberships).where(memberships.c.org_id == org_id)
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def _ready_in(settings: Settings, queue: str) -> int:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        declared = connection.channel().queue_declare(queue=queue, passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()
