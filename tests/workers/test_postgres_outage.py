"""While Postgres cannot be reached, a worker takes up no new message: messages wait, unacked, instead of
spending their retries and being dead-lettered; on a StubBroker over the fakes."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from domain.events import MemberAdded
from domain.ports import UnitOfWork
from tests.support.waiting import wait_for
from tests.unit.fakes import ORG, FakeDatabase, FakeListingCache
from tests.workers.support import running_fleet
from tests.workers.test_outcomes import outcome_lines
from workers.bootstrap import Application
from workers.middleware.outage import PostgresOutage, is_outage
from workers.middleware.resources import Resources

REFUSED = OperationalError("connect", {}, psycopg.OperationalError("connection refused"))


class Postgres:
    """The fakes' database behind a switch: while ``down``, every unit of work and ping fails to connect."""

    def __init__(self, db: FakeDatabase) -> None:
        self.down = False
        self.attempts = 0
        self._working = db.uow_factory()

    def new_uow(self, message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        self.attempts += 1
        if self.down:
            raise REFUSED
        return self._working(message_id, fingerprint)

    def ping(self) -> None:
        if self.down:
            raise REFUSED


def test_messages_wait_out_an_outage_longer_than_their_retries_and_none_is_dead_lettered() -> None:
    db = FakeDatabase()
    postgres = Postgres(db)
    application = Application(
        new_uow=postgres.new_uow, listing_cache=FakeListingCache(), ping_postgres=postgres.ping
    )
    postgres.down = True
    with running_fleet(application, threads=2) as fleet, capture_logs() as logs:
        first = fleet.send("add_member", org_id=ORG, user_id="dave")
        wait_for(
            lambda: any(line["event"].startswith("postgres unreachable") for line in logs),
            timeout=5.0,
            what="the gate to close",
            interval=0.01,
        )
        for user in ("erin", "frank"):
            fleet.send("add_member", org_id=ORG, user_id=user)
        time.sleep(1.0)  # many of QUICK's retry delays (at most 5 ms each), and the first probes
        attempts_while_down = postgres.attempts
        postgres.down = False
        fleet.settle()

    assert attempts_while_down == 1, "the others waited, and the first's retry too"
    assert fleet.dead_letters() == []
    assert {event.user_id for event in db.events_of(MemberAdded)} == {"dave", "erin", "frank"}
    outcomes = [line["outcome"] for line in outcome_lines(logs, first.message_id)]
    assert outcomes == ["retrying", "applied"]
    assert any(line["event"].startswith("postgres answers again") for line in logs)


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (REFUSED, True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (OperationalError("connect", {}, ConnectionRefusedError("not the driver's")), False),
        (RuntimeError("a bug"), False),
    ],
    ids=["refused, wrapped", "lost", "statement cancelled", "not from psycopg", "anything else"],
)
def test_only_a_connection_that_could_not_be_made_or_was_lost_is_an_outage(
    error: BaseException, outage: bool
) -> None:
    assert is_outage(error) is outage


class _Unreachable:
    def ping_postgres(self) -> None:
        raise REFUSED


def test_a_stop_lets_waiting_messages_run_so_that_the_worker_drains() -> None:
    resources = Resources(lambda _threads: _Unreachable())  # type: ignore[arg-type,return-value]
    resources.before_worker_boot(None, _Worker())  # type: ignore[arg-type]
    gate = PostgresOutage(resources, wait_max_s=60.0, probe_first_s=0.05, probe_max_s=0.05)
    gate.after_process_message(None, None, exception=REFUSED)  # type: ignore[arg-type]
    waiting = threading.Thread(target=gate.before_process_message, args=(None, None))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive(), "closed: the message waits"

    gate.before_worker_shutdown(None, None)  # type: ignore[arg-type]
    waiting.join(10.0)
    assert not waiting.is_alive()


class _Worker:
    worker_threads = 1
