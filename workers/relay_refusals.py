"""Events RabbitMQ refused (nacked): each one sent again a few times, further apart, then given up.

RabbitMQ nacks an event when a queue bound to its routing key refuses it: a queue declared with
``x-overflow: reject-publish`` that is full, or over its byte limit; rarely, an internal error. The
other bound queues took it. Retrying the whole batch until every event is confirmed would stop every
event behind one consumer's full queue, and send the rest of the batch to everyone else again and again.
So the confirmed events of a batch are marked published at once, and each refused event waits its turn:
sent again after 1 s, then 2, 4, 8 and 16 s (while the rest flow), and given up after the last refusal
(marked published, with an error line and a count, as an unroutable event is). Consumers already
deduplicate on the event id; a refused event may reach them after later events of its document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FIRST_WAIT_S = 1.0
ATTEMPTS = 6  # the first send and five more, 1 + 2 + 4 + 8 + 16 = 31 s apart in all


@dataclass
class _Refusal:
    attempts: int
    next_attempt_at: float


class RefusedEvents:
    """Which refused events are due to be sent again, and which to give up. One relay thread uses it."""

    def __init__(
        self,
        *,
        attempts: int = ATTEMPTS,
        first_wait: float = FIRST_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts, self._first_wait, self._clock = attempts, first_wait, clock
        self._refused: dict[str, _Refusal] = {}

    def waiting(self, event_id: str) -> bool:
        """Whether the event was refused and is not yet due to be sent again."""
        refusal = self._refused.get(event_id)
        return refusal is not None and refusal.next_attempt_at > self._clock()

    def settle(self, sent: Iterable[str], refused: set[str]) -> set[str]:
        """Notes what became of the events ``sent``; returns those of ``refused`` to give up."""
        given_up: set[str] = set()
        if not refused and not self._refused:
            return given_up
        for event_id in sent:
            if event_id not in refused:
                self._refused.pop(event_id, None)
                continue
            attempts = self._refused[event_id].attempts + 1 if event_id in self._refused else 1
            if attempts >= self._attempts:
                self._refused.pop(event_id, None)
                given_up.add(event_id)
            else:
                wait = self._first_wait * 2 ** (attempts - 1)
                self._refused[event_id] = _Refusal(attempts, self._clock() + wait)
        return given_up

    def forget(self) -> None:
        """Drops every refusal noted: each event counts its refusals from the start again."""
        self._refused = {}

    def __len__(self) -> int:
        return len(self._refused)
