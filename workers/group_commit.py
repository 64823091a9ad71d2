"""Group commit: the commands a worker process's threads are running at the same moment share one
transaction.

Each thread hands its command over. While fewer than ``max_leaders`` batches are under way, an arriving
thread leads at once: it takes its own command and the oldest waiting ones (up to ``max_batch``) and
runs them as one batch, which may hold its command alone. Commands arriving while every leader is busy
wait and form the next batch: the leader that finishes hands the lead to the oldest of them. So a lone
command runs at once, with nothing added to its latency (and through the batch's path, which reads
everything it needs in one round trip), and under load each transaction carries as many commands as
were waiting. Every thread returns only after the transaction holding its command has committed, so its
message is acked after the commit. When a batch cannot commit, each thread runs its own command again,
on its own.

A waiting thread sleeps on a lock of its own, released only when its command is settled or the lead is
handed to it: a finished batch wakes its own threads and the next leader, not every waiting thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

Job = TypeVar("Job")
Result = TypeVar("Result")


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Ticket(Generic[Job, Result]):
    job: Job
    wake: threading.Lock = field(default_factory=_held_lock)  # released once: settled, or handed the lead
    batch: list[_Ticket[Job, Result]] | None = None  # the batch it leads, if it leads one
    taken: bool = False  # into a leader's batch
    settled: bool = False
    alone: bool = False
    result: Result | None = None
    error: Exception | None = None


class GroupCommit(Generic[Job, Result]):
    """Runs jobs of concurrent threads in batches; safe to share between the threads of a process.

    ``run_together`` returns, in order, each job's result or the exception that job alone raised; if it
    raises, no job of the batch took effect. ``run_alone`` runs one job in a transaction of its own;
    of what it raises, only the ``committed_errors`` (a job's own refusal) come after its commit.
    """

    def __init__(
        self,
        run_together: Callable[[Sequence[Job]], Sequence[Result | Exception]],
        run_alone: Callable[[Job], Result],
        max_batch: int,
        max_leaders: int = 1,
        on_transaction: Callable[[int, str], None] | None = None,
        describe: Callable[[Job], object] = repr,
        committed_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        """``on_transaction(jobs, how)`` hears of every transaction: ``alone`` (one job), ``together``
        (several jobs that committed) or ``failed`` (a batch rolled back, whose jobs then run alone).
        ``describe`` names a job in the line of a failed batch, which lists every job of it."""
        if max_batch < 2:
            raise ValueError("a batch holds at least two jobs; run them alone instead")
        if max_leaders < 1:
            raise ValueError("at least one batch must be able to run")
        self._run_together = run_together
        self._run_alone = run_alone
        self._max_batch = max_batch
        self._max_leaders = max_leaders
        self._mutex = threading.Lock()
        self._waiting: deque[_Ticket[Job, Result]] = deque()
        self._leaders = 0
        self._on_transaction = on_transaction or (lambda _jobs, _how: None)
        self._describe = describe
        self._committed_errors = committed_errors

    def run(self, job: Job) -> Result:
        ticket: _Ticket[Job, Result] = _Ticket(job)
        try:
            self._lead_or_wait(ticket)
            if ticket.batch is not None:
                with _lines_of_the_whole_batch(len(ticket.batch)):
                    self._run_batch(ticket.batch)
        finally:
            self._let_go(ticket)
        if ticket.alone:  # its batch failed
            return self._run_again_alone(job)
        error, ticket.error = ticket.error, None
        if error is not None:
            try:
                raise error
            finally:
                del error  # the traceback holds this frame: its reference to the error would be a cycle
        return ticket.result  # type: ignore[return-value]  # settled without error: a result

    def _lead_or_wait(self, ticket: _Ticket[Job, Result]) -> None:
        """Returns once ``ticket.batch`` is the batch this thread leads, or another thread's batch
        settled the ticket."""
        with self._mutex:
            if self._leaders < self._max_leaders:
                self._lead(ticket)
                return
            self._waiting.append(ticket)
        ticket.wake.acquire()

    def _lead(self, ticket: _Ticket[Job, Result]) -> None:
        """``ticket`` leads a batch of itself and the oldest waiting ones; called holding the mutex."""
        batch = [ticket]
        while self._waiting and len(batch) < self._max_batch:
            batch.append(self._waiting.popleft())
        ticket.batch = batch  # before ``taken``: a leader's ticket seen taken has its batch (``_let_go``)
        for taken in batch:
            taken.taken = True
        self._leaders += 1

    def _let_go(self, ticket: _Ticket[Job, Result]) -> None:
        """However ``run`` ended (an interruption, such as a time limit, included): a ticket still
        waiting leaves the queue, since nobody waits for its job any more, and a batch it led is
        finished. A ticket not yet taken is looked for in the queue under the mutex, and its batch
        only then: the lead may be handed to it until the moment it leaves the queue.

        A leader's ticket is in its own batch: letting go of the batch breaks that cycle, which would
        otherwise leave every ticket, job and result of it to Python's cyclic collector."""
        if not ticket.taken:
            with self._mutex:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                    return
        batch, ticket.batch = ticket.batch, None
        if batch is not None:
            self._finish(batch)

    def _finish(self, batch: list[_Ticket[Job, Result]]) -> None:
        """Wakes the batch's other threads (each runs alone if the batch was interrupted) and hands
        the lead to the oldest waiting ticket."""
        for member in batch:
            if not member.settled:
                member.alone = member.settled = True
        for member in batch[1:]:
            member.wake.release()
        with self._mutex:
            self._leaders -= 1
            if self._waiting and self._leaders < self._max_leaders:
                following = self._waiting.popleft()
                self._lead(following)
                following.wake.release()

    def _run_batch(self, batch: list[_Ticket[Job, Result]]) -> None:
        """Settles every ticket; jobs arriving meanwhile wait for the next batch."""
        try:
            outcomes = self._run_together([ticket.job for ticket in batch])
        except Exception as error:
            for ticket in batch:
                ticket.alone = ticket.settled = True
            self._heard(len(batch), "failed")
            if len(batch) > 1:  # a job alone runs alone again, and its own outcome line tells the rest
                structlog.get_logger("docfleet.worker").warning(
                    "batch_failed",
                    size=len(batch),
                    error=repr(error),
                    then="each message runs on its own",
                    jobs=[self._describe(ticket.job) for ticket in batch],
                )
            return
        for ticket, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                ticket.error = outcome
            else:
                ticket.result = outcome
            ticket.settled = True
        self._heard(len(batch), "together" if len(batch) > 1 else "alone")

    def _run_again_alone(self, job: Job) -> Result:
        """A job of a failed batch, counted once its own transaction has committed or failed."""
        try:
            result = self._run_alone(job)
        except self._committed_errors:
            self._heard(1, "alone")
            raise
        except Exception:
            self._heard(1, "failed")
            raise
        self._heard(1, "alone")
        return result

    def _heard(self, jobs: int, how: str) -> None:
        """Tells ``on_transaction``, once the tickets are settled: whatever it raises, the batch
        committed, and must not run again."""
        try:
            self._on_transaction(jobs, how)
        except Exception as error:
            structlog.get_logger("docfleet.worker").warning(
                "transaction not counted", jobs=jobs, how=how, error=repr(error)
            )


@contextmanager
def _lines_of_the_whole_batch(size: int) -> Iterator[None]:
    """The leader runs every job of its batch: a line it logs meanwhile is the batch's, and must not carry
    the ids of the one message its thread was handed (its log context) as if it were that message's."""
    if size == 1:
        yield
        return
    own = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**own)
