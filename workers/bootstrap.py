"""The composition root: the one place that builds the adapters and hands them to the use cases.

A worker process opens one ``Application`` when it boots (``workers.middleware.Resources``) and closes it
when it stops. Nothing here connects on construction: the engine and the Valkey client fill their pools
on first use. Every method is safe to call from several threads at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Protocol

import structlog

from domain.commands import NO_COMMAND, Command, ListFolderDocuments, fingerprint
from domain.errors import AlreadyApplied, MessageIdReused, NotFound
from domain.events import CommandRejected, derived_event_id
from domain.listing import DocumentPage
from domain.ports import ListingCache, UnitOfWork, UnitOfWorkFactory
from domain.use_cases.dispatch import Outcome, execute, record_outcome, rejection
from domain.use_cases.list_folder_documents import list_folder_documents
from workers.batching import Job, OpenBatch, run_alone, run_together
from workers.group_commit import GroupCommit
from workers.settings import Settings
from workers.unit_of_work_taps import RefusalTap, keeping

if TYPE_CHECKING:
    from sqlalchemy import Engine

# A worker thread waiting in the driver (on a lock another session holds, say) is not interrupted by a
# time limit (docfleet's actors have none: workers/actors.py): Postgres cancels such a statement instead,
# and the message is retried as after any fault. docfleet's statements take milliseconds.
WORKER_STATEMENT_TIMEOUT_MS = 5_000


class RedeliveryCounts(Protocol):
    """Deliveries of a message after a worker stopped holding it, fleet-wide (the Valkey adapter's)."""

    def count(self, message_id: str) -> int: ...

    def uncount(self, message_id: str) -> None: ...


@dataclass(frozen=True)
class Verdict:
    """How a command ended, and why when it was refused."""

    outcome: Outcome
    reason: str | None = None
    detail: str | None = None


class Application:
    """The use cases, wired to their adapters."""

    def __init__(
        self,
        *,
        new_uow: UnitOfWorkFactory,
        listing_cache: ListingCache,
        new_reader: Callable[[], UnitOfWork] | None = None,
        closers: Sequence[Callable[[], object]] = (),
        open_batch: OpenBatch | None = None,
        batched: tuple[type[Command], ...] = (),
        max_batch: int = 8,
        on_transaction: Callable[[int, str], None] | None = None,
        redeliveries: RedeliveryCounts | None = None,
        acked_outcome: Callable[[str, str | None], bool] | None = None,
        spent_by: Callable[[str], str | None] | None = None,
        ping_postgres: Callable[[], object] | None = None,
    ) -> None:
        """From given parts: tests pass fakes. Queries read through ``new_reader`` (``new_uow(None)`` if
        not given); ``closers`` run, in order, on ``close()``. With ``open_batch``, commands of the
        ``batched`` types that threads run at the same moment share transactions (group commit), up to
        ``max_batch`` at a time; below 2, each still runs in a batch, of its own. ``spent_by`` gives the
        fingerprint the inbox keeps for a message id: without it, no message is found to reuse an id."""
        self.new_uow = new_uow
        self.new_reader = new_reader or (lambda: new_uow(None))
        self.listing_cache = listing_cache
        self._redeliveries = redeliveries
        self._acked_outcome = acked_outcome
        self._spent_by = spent_by
        self._ping_postgres = ping_postgres
        self._closers = tuple(closers)
        self._batched = batched
        self._run_batched: Callable[[Job], Verdict] | None = None
        if open_batch is not None and batched:
            alone = partial(run_alone, open_batch=open_batch, handle_with=self._handle_with)
            # With group commit off, still a batch of one: a refusal is recorded in the transaction that
            # decided it, under its document's lock, and its event keeps the document's order.
            self._run_batched = alone
            if max_batch >= 2:
                self._run_batched = GroupCommit(
                    run_together=partial(run_together, open_batch=open_batch, handle_with=self._handle_with),
                    run_alone=alone,
                    max_batch=max_batch,
                    on_transaction=on_transaction,
                    describe=attrgetter("message_id"),
                    committed_errors=(NotFound,),  # read from a sound snapshot: the transaction commits
                ).run

    @classmethod
    def from_settings(cls, settings: Settings, *, threads: int = 8) -> Application:
        """Postgres pooled for ``threads`` worker threads; Valkey caches, invalidated after each commit."""
        from adapters.postgres.batch import BATCHED_COMMANDS
        from adapters.postgres.rejections import MessageHistory
        from adapters.postgres.unit_of_work import read_only_unit_of_work_factory, unit_of_work_factory
        from adapters.valkey.client import connect
        from adapters.valkey.redeliveries import RedeliveryCounter
        from workers.metrics.group_commit import counting_transactions
        from workers.wiring import invalidating, listing_cache, sql_batches

        engine = _worker_engine(settings.database_url, threads)
        client = connect(settings.valkey_url, max_connections=2 * threads)
        listings = listing_cache(settings, client, engine)
        on_committed = invalidating(listings)
        history = MessageHistory(engine)
        return cls(
            new_uow=unit_of_work_factory(engine, on_committed),
            listing_cache=listings,
            new_reader=read_only_unit_of_work_factory(engine),
            closers=(engine.dispose, client.close),
            open_batch=sql_batches(engine, on_committed),
            batched=BATCHED_COMMANDS,
            max_batch=settings.group_commit_max_batch or threads,
            on_transaction=counting_transactions(),
            redeliveries=RedeliveryCounter(client, settings.cache_prefix),
            acked_outcome=history.acked_outcome,
            spent_by=history.spent_by,
            ping_postgres=partial(_ping, engine),
        )

    def execute(self, command: Command, *, message_id: str, actor: str) -> Outcome:
        """Runs the command once per message id: applied, a duplicate, or refused (its event committed)."""
        return self.handle(command, message_id=message_id, actor=actor).outcome

    def handle(self, command: Command, *, message_id: str, actor: str) -> Verdict:
        """As ``execute``, with the reason and detail of a refusal. NotFound and faults propagate, and
        ``MessageIdReused`` once its rejection is recorded."""
        job = Job(command, message_id, actor, fingerprint(command))
        run_batched = self._run_batched
        if run_batched is not None and isinstance(command, self._batched):
            verdict = _in_a_batch(run_batched, job)
        else:
            verdict = self._handle_with(self.new_uow, job)
        if verdict.outcome is Outcome.DUPLICATE:
            self._refuse_if_reused(job)
        return verdict

    def _refuse_if_reused(self, job: Job) -> None:
        """A duplicate whose id the inbox keeps for a different command is no copy of it: its rejection
        is recorded (no inbox row: the id is the other command's; once, under an id derived from the
        message id and the command, however often this message comes) and ``MessageIdReused`` raised.
        An id kept without a fingerprint (spent before fingerprints were kept) cannot be compared."""
        spent = None if self._spent_by is None else self._spent_by(job.message_id)
        if spent is None or spent == job.fingerprint:
            return
        reused = MessageIdReused(job.message_id, job.actor)
        event = rejection(job.command, job.message_id, job.actor, reused.reason, str(reused))
        command_print = job.fingerprint or fingerprint(job.command)
        event = replace(event, event_id=derived_event_id(job.message_id, command_print, reused.reason))
        if record_outcome(event, None, self.new_uow) is Outcome.DUPLICATE:
            reused.rejection = "duplicate"
        raise reused

    def _handle_with(self, new_uow: UnitOfWorkFactory, job: Job) -> Verdict:
        tap = RefusalTap(keeping(new_uow, job.fingerprint))
        outcome = execute(job.command, message_id=job.message_id, actor=job.actor, new_uow=tap)
        refusal = tap.refusal
        if outcome is Outcome.REFUSED and refusal is not None:
            return Verdict(outcome, refusal.reason, refusal.detail)
        return Verdict(outcome)

    def count_redelivery(self, message_id: str) -> int | None:
        """Adds a delivery of the message after a worker stopped holding it; how many, fleet-wide, or
        None where nothing counts them. Raises when the count cannot be kept."""
        return None if self._redeliveries is None else self._redeliveries.count(message_id)

    def uncount_redelivery(self, message_id: str) -> None:
        """Takes back a counted delivery whose turn ended: it did not stop its worker. Raises when the
        count cannot be kept."""
        if self._redeliveries is not None:
            self._redeliveries.uncount(message_id)

    def acked_outcome(self, message_id: str, command: Command | None) -> bool:
        """Whether ``command`` (None: a message that cannot be read as one) was already applied or refused
        by the rules under this id: an outcome that acks it, unlike a rejection as invalid or not found,
        or another command's outcome under the same id. Raises when Postgres cannot say."""
        kept = _fingerprint_of(command)
        return self._acked_outcome is not None and self._acked_outcome(message_id, kept)

    def list_folder(self, query: ListFolderDocuments) -> DocumentPage:
        """One page of the folder for the requester; raises Refused or NotFound when it may not be read."""
        return list_folder_documents(query, self.new_reader(), self.listing_cache)

    def reject(self, event: CommandRejected, command: Command | None = None) -> Outcome:
        """Commits the CommandRejected (``domain.use_cases.dispatch.rejection``) with its message's inbox
        row: REFUSED, or DUPLICATE if already there. Without an ``org_id``, the event takes that of the
        document it names, if it exists. The inbox row keeps the fingerprint of ``command``, the message's
        where it could be read as one, else ``NO_COMMAND``: a command sent under the id later (the message
        fixed) is another, never its copy."""
        kept = NO_COMMAND if command is None else fingerprint(command)
        return record_outcome(event, event.message_id, keeping(self.new_uow, kept))

    def ping_postgres(self) -> None:
        """Returns once Postgres answered a statement; raises if it cannot be reached."""
        if self._ping_postgres is not None:
            self._ping_postgres()

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except Exception as error:  # one failed close must not keep the others open
                structlog.get_logger("docfleet.worker").warning("close_failed", error=repr(error))


def _fingerprint_of(command: Command | None) -> str | None:
    return None if command is None else fingerprint(command)


def _worker_engine(database_url: str, threads: int) -> Engine:
    """Postgres pooled for ``threads`` worker threads. No ping per checkout: a connection broken by a
    restart fails one message, which is retried."""
    from adapters.postgres.engine import create_engine

    return create_engine(
        database_url,
        pool_size=threads,
        pre_ping=False,
        statement_timeout_ms=WORKER_STATEMENT_TIMEOUT_MS,
        application_name=f"docfleet-worker pid {os.getpid()}",  # as its RabbitMQ connection is named
    )


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def _in_a_batch(run_batched: Callable[[Job], Verdict], job: Job) -> Verdict:
    """A batch claims its messages' ids as it commits: one whose copy (a redelivery) another process
    committed meanwhile fails there, and the batch's jobs run again alone; such a job, alone, is that
    copy's duplicate."""
    try:
        return run_batched(job)
    except AlreadyApplied:
        return Verdict(Outcome.DUPLICATE)
