"""The ``workers`` check of ``docfleet health`` (every queue of the contract has a consumer) and its
``dead letters`` check (no more waiting than ``--max-dead-letters``)."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.rabbitmq.queue_states import QueueState, QueueStates
from workers.cli.dead_letters import ORIGINS
from workers.cli.output import counted

CONSUMED_QUEUES = tuple(ORIGINS.values())


def workers_consume(states: QueueStates) -> tuple[bool, str]:
    """Holds when a consumer reads each queue; says how many messages wait in each, and the dead letters."""
    queues = states.of((*CONSUMED_QUEUES, *ORIGINS))
    parts = [_describe(queue, queues[queue]) for queue in CONSUMED_QUEUES]
    dead = _dead_letters(queues)
    if dead:
        parts.append(f"{counted(dead, 'dead letter')} (docfleet dlq ls)")
    consumed = all((state := queues[queue]) is not None and state.consumers > 0 for queue in CONSUMED_QUEUES)
    return consumed, "; ".join(parts)


def dead_letters_within(states: QueueStates, limit: int) -> tuple[bool, str]:
    """Holds when no more than ``limit`` messages wait in the dead-letter queues."""
    dead = _dead_letters(states.of(ORIGINS))
    return dead <= limit, f"{counted(dead, 'dead letter')}, limit {limit} (docfleet dlq ls)"


def _dead_letters(queues: Mapping[str, QueueState | None]) -> int:
    return sum(state.ready for queue in ORIGINS if (state := queues[queue]) is not None)


def _describe(queue: str, state: QueueState | None) -> str:
    if state is None:
        return f"{queue}: not declared, no worker has started on this virtual host"
    if state.consumers == 0:
        return f"{queue}: no consumer, {state.ready} waiting: is a worker running?"
    return f"{queue}: {counted(state.consumers, 'consumer')}, {state.ready} waiting"
