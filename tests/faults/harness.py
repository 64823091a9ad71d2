"""One scenario from start to ledger: the ledger queue, the fleet, the setup commands, then the test's load
and fault, then quiet and the accounts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.fleet import tail
from tests.faults.fleet import Fleet, FleetShape, running_fleet
from tests.faults.ledger import Ledger, account, wait_for_quiet
from tests.faults.ledger_queries import processed
from tests.faults.listings import stale_listings
from tests.faults.load import Load
from tests.faults.producer import Producer
from tests.faults.queues import declare_ledger_queue
from tests.faults.workload import Workload
from workers.settings import Settings


@dataclass
class Run:
    settings: Settings
    fleet: Fleet
    producer: Producer
    workload: Workload
    setup_commands: int = 0

    def load(self, uploads: int, rate: float) -> Load:
        """Uploads (and shares) sent in the background at ``rate`` commands per second."""
        return Load(self.producer, self.workload, self.settings.database_url, uploads=uploads, rate=rate)

    def applied_count(self) -> int:
        ids = [command.message_id for command in self.producer.confirmed_commands()]
        return len(processed(self.settings.database_url, ids))

    def wait_applied(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.applied_count() < count:
            assert time.monotonic() < deadline, f"fewer than {count} applied:\n{tail(self.fleet.log)}"
            time.sleep(0.2)

    def wait_loaded(self, count: int, timeout: float = 120.0) -> None:
        """Until ``count`` commands of the load (beyond the setup) were applied."""
        self.wait_applied(self.setup_commands + count, timeout)

    def finish(self) -> Ledger:
        """Waits for quiet, lists every folder through the fleet, and draws up the ledger."""
        confirmed = self.producer.confirmed_commands()
        quiet = wait_for_quiet(self.settings, confirmed)
        stale = stale_listings(self.settings, self.workload) if quiet else []
        ledger = account(
            self.settings, self.workload.org, confirmed, stale=len(stale), resent=self.producer.resends
        )
        assert quiet, f"the fleet never went quiet: {ledger}\n{tail(self.fleet.log)}"
        return ledger


@contextmanager
def scenario(settings: Settings, workdir: Path, shape: FleetShape, *, copies: int = 1) -> Iterator[Run]:
    """The fleet running, its members and folders in place; the ledger queue bound before any event."""
    declare_ledger_queue(settings.amqp_url)
    workload = Workload()
    with (
        running_fleet(settings, workdir, shape) as fleet,
        Producer(settings.amqp_url, copies=copies) as producer,
    ):
        fleet.wait_ready()
        run = Run(settings, fleet, producer, workload)
        for step in (workload.members(), workload.folders_created()):  # a folder needs its creator
            producer.send(step)
            run.wait_applied(len(producer.confirmed))
        run.setup_commands = len(producer.confirmed)
        yield run
