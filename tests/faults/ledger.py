"""The ledger of a scenario, checked as Jepsen's queue checkers do once the fleet is quiet.

Every command the producer saw confirmed must have had its effect exactly once (one inbox row, the effect
in Postgres once, one event for it); every committed event must have reached the ledger queue bound to
doc.events (the same event id may come twice; two event ids for one effect count as a duplicate); the
outbox must be drained and the dead-letter queues hold only the messages expected there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from tests.faults.ledger_queries import committed, outbox_pending, processed, rows
from tests.faults.queues import LEDGER_QUEUE, dead_letters, depth, drain_event_ids
from tests.faults.workload import Command
from workers.settings import Settings

QUIET_FOR_S = 2.0


@dataclass(frozen=True)
class Ledger:
    sent: int
    applied: int
    lost: int
    duplicated: int
    stale: int
    dead_lettered: int
    events: int
    events_missing: int
    events_twice_on_wire: int
    outbox_pending: int
    refused: int
    resent: int

    def line(self, scenario: str) -> str:
        return f"ledger scenario={scenario} " + " ".join(
            f"{f.name}={getattr(self, f.name)}" for f in fields(self)
        )

    def problems(self, *, expected_dead_letters: int = 0) -> list[str]:
        found = [
            f"{name}={getattr(self, name)}" for name in ("lost", "duplicated", "stale") if getattr(self, name)
        ]
        found += [
            f"{name}={getattr(self, name)}"
            for name in ("events_missing", "outbox_pending", "refused")
            if getattr(self, name)
        ]
        if self.applied != self.sent:
            found.append(f"applied={self.applied} of sent={self.sent}")
        if self.dead_lettered != expected_dead_letters:
            found.append(f"dead_lettered={self.dead_lettered}, expected {expected_dead_letters}")
        return found


def wait_for_quiet(settings: Settings, confirmed: list[Command], timeout: float = 180.0) -> bool:
    """Until every confirmed command is processed, the outbox drained, the command queues empty and the
    ledger queue holds at least every committed event, for ``QUIET_FOR_S`` in a row."""
    ids = [command.message_id for command in confirmed]
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if _looks_quiet(settings, ids):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= QUIET_FOR_S:
                return True
        else:
            quiet_since = None
        time.sleep(0.5)
    return False


def _looks_quiet(settings: Settings, message_ids: list[str]) -> bool:
    try:
        if len(processed(settings.database_url, message_ids)) < len(message_ids):
            return False
        if outbox_pending(settings.database_url):
            return False
        events = int(rows(settings.database_url, "SELECT count(*) FROM outbox")[0][0])
    except Exception:  # Postgres itself may be what is failing: not quiet yet
        return False
    queued = [depth(settings.amqp_url, queue) for queue in ("documents", "documents.DQ")]
    return queued == [0, 0] and (depth(settings.amqp_url, LEDGER_QUEUE) or 0) >= events


def account(settings: Settings, org_id: str, confirmed: list[Command], *, stale: int, resent: int) -> Ledger:
    state = committed(settings.database_url, org_id)
    inbox = processed(settings.database_url, [command.message_id for command in confirmed])
    applied = lost = duplicated = 0
    for command in confirmed:
        times, events = state.effects[command.effect], state.events_per_effect[command.effect]
        if command.message_id not in inbox or times == 0 or events == 0:
            lost += 1
        elif times > 1 or events > 1:
            duplicated += 1
        else:
            applied += 1
    received = drain_event_ids(settings.amqp_url)
    return Ledger(
        sent=len(confirmed),
        applied=applied,
        lost=lost,
        duplicated=duplicated,
        stale=stale,
        dead_lettered=dead_letters(settings.amqp_url),
        events=len(state.event_ids),
        events_missing=len(state.event_ids - set(received)),
        events_twice_on_wire=len(received) - len(set(received)),
        outbox_pending=outbox_pending(settings.database_url),
        refused=state.refusals,
        resent=resent,
    )
