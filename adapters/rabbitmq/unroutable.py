"""The warning for events nobody subscribed to: at once the first time, then at most once per interval.

A deployment where nobody binds a queue to some routing key (no one listens to ``document.uploaded``,
say) has every such event returned: one warning per relay batch was dozens of lines a second under load,
and a tenth of the relay's time. The events are summed instead, by routing key, and each warning says
how many came back since the previous one and names the first ``NAMED_UNROUTABLE`` of them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

import structlog

log = structlog.get_logger("adapters.rabbitmq.publisher")

NAMED_UNROUTABLE = 20
WARN_EVERY_S = 60.0


class UnroutableWarnings:
    def __init__(self, every_s: float = WARN_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s, self._clock = every_s, clock
        self._by_routing_key: Counter[str] = Counter()
        self._named: list[str] = []
        self._due = clock()

    def add(self, returned: Iterable[tuple[str, str]]) -> None:
        """``(routing_key, event_id)`` of events RabbitMQ returned; warns now if a warning is due."""
        for routing_key, event_id in returned:
            self._by_routing_key[routing_key] += 1
            if len(self._named) < NAMED_UNROUTABLE:
                self._named.append(event_id)
        self.warn_when_due()

    def warn_when_due(self) -> None:
        if self._by_routing_key and self._clock() >= self._due:
            self.warn_now()

    def warn_now(self) -> None:
        """Logs what was summed since the last warning, if anything (also at close: nothing is dropped)."""
        if not self._by_routing_key:
            return
        log.warning(
            "events had no subscriber",
            count=sum(self._by_routing_key.values()),
            routing_keys=dict(self._by_routing_key),
            event_ids=self._named,
            next_warning_in_s=self._every_s,
        )
        self._by_routing_key, self._named = Counter(), []
        self._due = self._clock() + self._every_s
