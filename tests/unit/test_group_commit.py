"""Group commit's hand-over between threads, with jobs that are plain strings."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from structlog.testing import capture_logs

from tests.support.cycles import left_to_the_collector
from workers.group_commit import GroupCommit, _Ticket


class Interrupted(BaseException):
    """As Dramatiq's time limit interrupts a thread: not an Exception."""


class Recorder:
    """Runs jobs the way a batch would, remembering every batch and every lone run."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.alone: list[str] = []
        self.transactions: list[tuple[int, str]] = []
        self._fail_batches = fail_batches
        self._lock = threading.Lock()

    def run_together(self, jobs: Sequence[str]) -> list[str | Exception]:
        with self._lock:
            self.batches.append(list(jobs))
        if self._fail_batches:
            raise RuntimeError("the batch could not commit")
        if any(job.startswith("interrupted") for job in jobs):
            raise Interrupted(jobs)
        return [ValueError(job) if job.startswith("bad") else f"{job}: together" for job in jobs]

    def heard(self, jobs: int, how: str) -> None:
        with self._lock:
            self.transactions.append((jobs, how))

    def run_alone(self, job: str) -> str:
        with self._lock:
            self.alone.append(job)
        if job.startswith("down"):
            raise ConnectionError(job)  # rolled back too
        if job.startswith("missing"):
            raise LookupError(job)  # a refusal of the job's own, after its commit
        return f"{job}: alone"


@contextmanager
def batch_under_way(group: GroupCommit[str, str], waiting: int) -> Iterator[None]:
    """Holds the group as if a batch were running until ``waiting`` jobs wait for the next one; then
    that batch ends, and the lead passes to the oldest of them."""
    with group._mutex:
        group._leaders = 1
    yield
    wait_until_queued(group, waiting)
    group._finish([])


def wait_until_queued(group: GroupCommit[str, str], waiting: int) -> None:
    deadline = time.monotonic() + 5
    while len(group._waiting) < waiting:
        assert time.monotonic() < deadline, "the jobs never queued"
        time.sleep(0.001)


def submit_all(group: GroupCommit[str, str], pool: ThreadPoolExecutor, jobs: list[str]) -> list[Future[str]]:
    return [pool.submit(group.run, job) for job in jobs]


def test_a_lone_job_runs_at_once_as_a_batch_of_one() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, on_transaction=recorder.heard)
    assert group.run("upload-1") == "upload-1: together"
    assert recorder.batches == [["upload-1"]]
    assert recorder.alone == []
    assert recorder.transactions == [(1, "alone")]


def test_a_lone_job_whose_batch_fails_runs_again_on_its_own() -> None:
    recorder = Recorder(fail_batches=True)
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, on_transaction=recorder.heard)
    assert group.run("upload-1") == "upload-1: alone"
    assert recorder.alone == ["upload-1"]
    assert recorder.transactions == [(1, "failed"), (1, "alone")]


def test_jobs_waiting_at_the_same_moment_share_one_batch() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, on_transaction=recorder.heard)
    jobs = [f"upload-{n}" for n in range(5)]
    with ThreadPoolExecutor(5) as pool:
        with batch_under_way(group, waiting=5):
            futures = submit_all(group, pool, jobs)
        results = [future.result(timeout=5) for future in futures]
    assert results == [f"{job}: together" for job in jobs]
    assert len(recorder.batches) == 1
    assert sorted(recorder.batches[0]) == jobs
    assert recorder.alone == []
    assert recorder.transactions == [(5, "together")]


def test_a_batch_leaves_nothing_to_the_cyclic_collector() -> None:
    """A leader's ticket is in its own batch: a cycle, until the leader lets go of the batch."""
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8)
    with left_to_the_collector() as left, ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = submit_all(group, pool, ["upload-1", "upload-2", "upload-3"])
        assert all(future.result(timeout=5).endswith("together") for future in futures)
        assert group.run("upload-4") == "upload-4: together"
    assert left == []


def test_a_batch_holds_at_most_max_batch_jobs() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=2)
    jobs = [f"share-{n}" for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        with batch_under_way(group, waiting=4):
            futures = submit_all(group, pool, jobs)
        assert [future.result(timeout=5) for future in futures] == [f"{job}: together" for job in jobs]
    assert sorted(len(batch) for batch in recorder.batches) == [2, 2]
    assert sorted(job for batch in recorder.batches for job in batch) == jobs


def test_the_exception_of_one_job_is_raised_in_its_own_thread_only() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, on_transaction=recorder.heard)
    with ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = submit_all(group, pool, ["upload-1", "bad-2", "upload-3"])
        with pytest.raises(ValueError, match="bad-2"):
            futures[1].result(timeout=5)
        assert futures[0].result(timeout=5) == "upload-1: together"
        assert futures[2].result(timeout=5) == "upload-3: together"


def test_when_a_batch_fails_each_job_runs_again_alone() -> None:
    recorder = Recorder(fail_batches=True)
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, on_transaction=recorder.heard)
    jobs = ["upload-1", "upload-2", "upload-3"]
    with ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = submit_all(group, pool, jobs)
        assert [future.result(timeout=5) for future in futures] == [f"{job}: alone" for job in jobs]
    assert len(recorder.batches) == 1
    assert sorted(recorder.alone) == jobs
    assert sorted(recorder.transactions) == [(1, "alone")] * 3 + [(3, "failed")]


def test_a_job_run_again_alone_is_counted_by_whether_its_own_transaction_committed() -> None:
    recorder = Recorder(fail_batches=True)
    group = GroupCommit(
        recorder.run_together,
        recorder.run_alone,
        max_batch=8,
        on_transaction=recorder.heard,
        committed_errors=(LookupError,),
    )
    jobs = ["upload-1", "down-2", "missing-3"]
    with ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = submit_all(group, pool, jobs)
        assert futures[0].result(timeout=5) == "upload-1: alone"
        with pytest.raises(ConnectionError):
            futures[1].result(timeout=5)
        with pytest.raises(LookupError):
            futures[2].result(timeout=5)
    assert sorted(recorder.transactions) == [(1, "alone"), (1, "alone"), (1, "failed"), (3, "failed")]


def test_a_hook_that_raises_after_the_commit_neither_runs_the_batch_again_nor_fails_its_jobs() -> None:
    recorder = Recorder()

    def broken_metrics(_jobs: int, _how: str) -> None:
        raise RuntimeError("the histogram could not be written")

    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, on_transaction=broken_metrics)
    jobs = ["upload-1", "upload-2", "upload-3"]
    with capture_logs() as logs, ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = submit_all(group, pool, jobs)
        assert [future.result(timeout=5) for future in futures] == [f"{job}: together" for job in jobs]
    assert recorder.alone == [], "a committed batch ran again"
    assert [(line["event"], line["how"]) for line in logs] == [("transaction not counted", "together")]


def test_the_line_of_a_failed_batch_names_every_job_of_it() -> None:
    recorder = Recorder(fail_batches=True)
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8, describe=str.upper)
    jobs = ["upload-1", "upload-2", "upload-3"]
    with capture_logs() as logs, ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = submit_all(group, pool, jobs)
        [future.result(timeout=5) for future in futures]
    [failed] = [line for line in logs if line["event"] == "batch_failed"]
    assert sorted(failed["jobs"]) == ["UPLOAD-1", "UPLOAD-2", "UPLOAD-3"]


def test_a_batch_needs_room_for_two_jobs() -> None:
    recorder = Recorder()
    with pytest.raises(ValueError, match="at least two"):
        GroupCommit(recorder.run_together, recorder.run_alone, max_batch=1)


def test_waiting_jobs_form_batches_in_the_order_they_arrived() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=2)
    jobs = [f"share-{n}" for n in range(5)]
    with ThreadPoolExecutor(5) as pool:
        with batch_under_way(group, waiting=len(jobs)):
            futures = []
            for queued, job in enumerate(jobs, start=1):
                futures.append(pool.submit(group.run, job))
                wait_until_queued(group, queued)
        assert [future.result(timeout=5) for future in futures] == [f"{job}: together" for job in jobs]
    assert recorder.batches == [jobs[0:2], jobs[2:4], jobs[4:5]]


def test_a_batch_interrupted_in_its_leader_lets_its_jobs_run_alone_and_the_group_go_on() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8)
    jobs = ["interrupted-1", "upload-2", "upload-3"]
    with ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=len(jobs)):
            futures = []
            for queued, job in enumerate(jobs, start=1):  # the oldest, interrupted-1, leads them all
                futures.append(pool.submit(group.run, job))
                wait_until_queued(group, queued)
        with pytest.raises(Interrupted):
            futures[0].result(timeout=5)
        assert [future.result(timeout=5) for future in futures[1:]] == ["upload-2: alone", "upload-3: alone"]
    assert group.run("upload-4") == "upload-4: together"  # the lead was given back
    assert recorder.batches == [jobs, ["upload-4"]]


class LeadHandedOnEntry:
    """The group's mutex; the first time it is taken, another thread's batch ends just before and hands
    the lead to the oldest waiting ticket: the moment after an interrupted thread last looked at its
    ticket and before it takes the mutex."""

    def __init__(self, group: GroupCommit[str, str]) -> None:
        self._group, self._lock, self._pending = group, group._mutex, True

    def __enter__(self) -> None:
        if self._pending:
            self._pending = False
            finishing = threading.Thread(target=self._group._finish, args=([],))
            finishing.start()
            finishing.join(timeout=5)
        self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()


def test_a_waiting_job_interrupted_as_the_lead_reaches_it_still_passes_the_lead_on() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8)
    ticket: _Ticket[str, str] = _Ticket("interrupted-1")
    with group._mutex:
        group._leaders = 1  # a batch under way, and the ticket waiting for the next one
        group._waiting.append(ticket)
    group._mutex = LeadHandedOnEntry(group)  # type: ignore[assignment]
    group._let_go(ticket)  # as run() does once the ticket's wait is interrupted
    assert ticket.taken  # it was handed the lead (no other batch could take it)...
    assert ticket.batch is None  # ...let go of the batch it led...
    assert group._leaders == 0  # ...and gave the lead back, unused
    assert ticket.alone
    assert group.run("upload-2") == "upload-2: together"


def test_a_failed_batch_of_one_job_leaves_the_line_to_its_run_alone() -> None:
    """Under an outage every message fails alone: a batch_failed line each would double the log."""
    recorder = Recorder(fail_batches=True)
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8)
    with capture_logs() as logs:
        assert group.run("upload-1") == "upload-1: alone"
    assert [line for line in logs if line["event"] == "batch_failed"] == []
    assert recorder.alone == ["upload-1"]
