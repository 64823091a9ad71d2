"""The ``audit`` check of ``docfleet health``: where the audit queue exists, an audit consumer reads it.

The audit consumer is optional, so the check is made only where its queue was declared (by a consumer
that ran once): that queue is bound to every event and keeps them while nothing reads it, without limit.
"""

from __future__ import annotations

from adapters.rabbitmq.queue_states import QueueStates
from workers.audit_wire import dead_letter_queue
from workers.cli.output import counted


def audit_consumed(states: QueueStates, queue: str) -> tuple[bool, str] | None:
    """Holds when a consumer reads ``queue``; None where there is no such queue to check."""
    found = states.of((queue, dead_letter_queue(queue)))
    state, dead = found[queue], found[dead_letter_queue(queue)]
    if state is None:
        return None
    waiting = counted(state.ready, "event")
    if state.consumers == 0:
        detail = (
            f"{queue}: no consumer, {waiting} waiting: is docfleet audit running? (retired: delete the"
            " queue, docs/audit-consumer.md)"
        )
    else:
        detail = f"{queue}: {counted(state.consumers, 'consumer')}, {waiting} waiting"
    if dead is not None and dead.ready:
        detail += f"; {counted(dead.ready, 'malformed event')} in {dead_letter_queue(queue)}"
    return state.consumers > 0, detail
