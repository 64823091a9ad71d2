"""One batch of the outbox at a time: read, published, and marked published once RabbitMQ confirmed it.

An event RabbitMQ refused stays unmarked and is sent again in a later batch, a few times, then given up
(``workers.relay_refusals``). ``workers.relay`` decides when a batch goes, and on which connection.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import structlog

from adapters.postgres.outbox import OutboxStore
from adapters.rabbitmq.wire import PublishableEvent
from workers.metrics.relay import RelayMetrics
from workers.relay_refusals import RefusedEvents

log = structlog.get_logger("docfleet.relay")


class Publisher(Protocol):
    def publish(self, records: Sequence[PublishableEvent]) -> set[str]:
        """Sends the events and waits for RabbitMQ's confirms; returns the ids of those it refused."""
        ...

    def keepalive(self) -> None: ...

    def close(self) -> None: ...


class OutboxBatches:
    """Publishes the outbox's next batch, keeping count of the events RabbitMQ refused. One relay thread
    uses it."""

    def __init__(
        self, *, batch_size: int, refusal_attempts: int, refusal_first_wait: float, metrics: RelayMetrics
    ) -> None:
        self._batch_size = batch_size
        self._refusal_attempts = refusal_attempts
        self._refusals = RefusedEvents(attempts=refusal_attempts, first_wait=refusal_first_wait)
        self._metrics = metrics

    def forget_refusals(self) -> None:
        self._refusals.forget()

    def publish(self, store: OutboxStore, publisher: Publisher) -> tuple[int, int]:
        """Publishes the next batch; returns how many events were sent, and how many marked published."""
        size = self._batch_size
        if self._refusals:  # fetched beyond the waiting ones, so that they take no room from the others
            fetched = store.fetch_unpublished(size + len(self._refusals))
            records = [r for r in fetched if not self._refusals.waiting(r.event_id)][:size]
        else:
            records = store.fetch_unpublished(size)
        if not records:
            return 0, 0
        started = time.monotonic()
        refused = publisher.publish(records)
        given_up = self._refusals.settle((record.event_id for record in records), refused)
        settled, confirmed = records, records
        if refused:
            retrying = refused - given_up
            settled = [record for record in records if record.event_id not in retrying]
            confirmed = [record for record in records if record.event_id not in refused]
            self._note_refused(records, refused, retrying, given_up)
        if settled:
            store.mark_published([record.seq for record in settled])
        self._metrics.published(confirmed, sent=len(records))
        log.debug(  # one line a batch is too many at INFO; "outbox status" sums them up every minute
            "published events",
            count=len(records),
            first_seq=records[0].seq,
            last_seq=records[-1].seq,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return len(records), len(settled)

    def _note_refused(
        self, records: Sequence[PublishableEvent], refused: set[str], retrying: set[str], given_up: set[str]
    ) -> None:
        """``refused``: this batch's; of them, ``retrying`` are sent again later, ``given_up`` are not."""
        self._metrics.refused([record for record in records if record.event_id in refused])
        if retrying:
            log.warning(
                "RabbitMQ refused events, sending them again later",
                event_ids=sorted(retrying),
                hint="a queue bound to their routing key refuses them: full (x-overflow reject-publish)?",
            )
        if given_up:
            self._metrics.given_up([record for record in records if record.event_id in given_up])
            log.error(
                "RabbitMQ kept refusing events, given up",
                event_ids=sorted(given_up),
                attempts=self._refusal_attempts,
            )
