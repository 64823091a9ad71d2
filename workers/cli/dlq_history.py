"""What Postgres knows of a dead letter's message id, for ``docfleet dlq``: used or not, rejected why; and
what Valkey counted of its redeliveries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from adapters.postgres.rejections import MessageHistory
from adapters.valkey.redeliveries import RedeliveryCounter
from workers.cli.dead_letters import IdHistory
from workers.cli.failures import service_failure
from workers.settings import Settings


class HistoryLookup:
    """``lookup(message_id)`` → its ``IdHistory``. Not strict: once Postgres fails, says so on stderr once
    and answers that it was never used from then on; strict: the failure propagates."""

    def __init__(
        self,
        history: MessageHistory,
        *,
        strict: bool,
        counter: RedeliveryCounter | None = None,
        answer_ttl_ms: int | None = None,
    ) -> None:
        self.answer_ttl_ms = answer_ttl_ms  # the workers' RESULT_TTL_MS: past it a query is not run
        self._history = history
        self._strict = strict
        self._counter = counter
        self._unavailable = False
        self._valkey_unavailable = False

    def __call__(self, message_id: str) -> IdHistory:
        if self._unavailable:
            return IdHistory(unknown=True)
        try:
            spending = self._history.spending(message_id)
            rejection = self._history.rejections([message_id]).get(message_id)
            if spending is not None:
                return IdHistory(True, rejection, spending.fingerprint, spending.dead_lettered)
            # Its inbox row pruned, a rejection recorded under the id still says it was used: a letter
            # refused as message_id_reused dies days after the id's first use, whose row goes first.
            return IdHistory() if rejection is None else IdHistory(True, rejection)
        except Exception as error:
            told = service_failure(error)
            if self._strict or told is None:
                raise
            typer.echo(f"docfleet: {told}: recorded rejections are not shown", err=True)
            self._unavailable = True
            return IdHistory(unknown=True)

    def redeliveries(self, message_id: str) -> int:
        """The redeliveries the workers counted; 0 when Valkey cannot say (the reason is then in the
        worker's log line alone). Once Valkey fails, it is not asked again: each ask would wait out its
        timeout, for every letter."""
        if self._counter is None or self._valkey_unavailable:
            return 0
        try:
            return self._counter.counted(message_id)
        except Exception:  # best effort: the dead letter is told all the same
            self._valkey_unavailable = True
            return 0

    def forget_redeliveries(self, message_id: str) -> bool:
        """Starts the message's count again; whether that was done. Tried each time, even once a lookup
        failed: a replayed message left at its count would be dead-lettered again, unrun."""
        if self._counter is None:
            return True
        try:
            self._counter.forget(message_id)
        except Exception:
            return False
        return True


@contextmanager
def history_for(settings: Settings, *, strict: bool) -> Iterator[HistoryLookup]:
    from adapters.postgres.engine import create_engine
    from adapters.valkey.client import connect

    engine = create_engine(settings.database_url, pool_size=1, application_name="docfleet-dlq")
    client = connect(settings.valkey_url, max_connections=1)
    try:
        counter = RedeliveryCounter(client, settings.cache_prefix)
        ttl = settings.result_ttl_ms
        yield HistoryLookup(MessageHistory(engine), strict=strict, counter=counter, answer_ttl_ms=ttl)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        engine.dispose()
