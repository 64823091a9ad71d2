"""Commands of one worker process run in shared transactions: the group commit's wiring to the use cases.

``run_together`` runs each job's use case in a unit of work of one batch, then commits the batch. A job
that finds something missing (``NotFound``) fails alone and is retried like any other; any other
exception fails the whole batch, whose jobs then run again each in a batch of its own (``run_alone``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TypeVar

from domain.commands import Command
from domain.errors import NotFound
from domain.ports import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Job:
    command: Command
    message_id: str
    actor: str
    fingerprint: str | None = None  # of the command (``domain.commands.fingerprint``), for its inbox row


class CommandBatch(Protocol):
    """One transaction for several messages (``adapters.postgres.batch.SqlBatch``)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def new_uow(self, message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork: ...

    def commit(self) -> None: ...


OpenBatch = Callable[[Sequence[Job]], CommandBatch]
Verdict = TypeVar("Verdict")


def run_together(
    jobs: Sequence[Job],
    open_batch: OpenBatch,
    handle_with: Callable[[UnitOfWorkFactory, Job], Verdict],
) -> list[Verdict | Exception]:
    results: list[Verdict | Exception] = []
    with open_batch(jobs) as batch:
        for job in jobs:
            try:
                results.append(handle_with(batch.new_uow, job))
            except NotFound as missing:  # read from the snapshot: the transaction is sound
                results.append(_untraced(missing))
        batch.commit()
    return results


def run_alone(
    job: Job,
    open_batch: OpenBatch,
    handle_with: Callable[[UnitOfWorkFactory, Job], Verdict],
) -> Verdict:
    """A job in a batch of its own: one of a batch that could not commit, run again, or any batched
    command while group commit is off.

    A batch locks its documents before its messages' inbox rows are written; a unit of work of its
    own writes its message's row first. A job run that way while a copy of its message (a redelivery)
    waited in another batch deadlocked with it, stalled until Postgres broke the cycle a second later.
    In a batch of its own it takes its locks in the order every batch does."""
    [outcome] = run_together([job], open_batch, handle_with)
    if isinstance(outcome, Exception):
        try:
            raise outcome
        finally:
            del outcome  # the traceback holds this frame: its reference to the error would be a cycle
    return outcome


def _untraced(missing: NotFound) -> NotFound:
    """``missing`` without its traceback, to be raised again in its own job's thread. The traceback's
    frames lead, through their callers, to the list that holds it: a cycle, which only Python's cyclic
    collector frees (docs/performance.md, "Where the time goes"). A ``NotFound`` is an answer, told by
    its message; where it was raised says nothing more."""
    return missing.with_traceback(None)
