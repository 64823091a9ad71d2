"""A batch's lines are the batch's: its leader's thread does not lend them its own message's ids."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from tests.unit.test_group_commit import Recorder, batch_under_way
from workers.group_commit import GroupCommit


class ContextRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def run_together(self, jobs: Sequence[str]) -> list[str | Exception]:
        self.seen.append(structlog.contextvars.get_contextvars())
        return super().run_together(jobs)


def _run_as_its_message(group: GroupCommit[str, str], job: str) -> tuple[str, dict[str, Any]]:
    """As a worker thread runs a message: its ids bound, then the job; the ids it is left with."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(message_id=f"id-of-{job}", thread=threading.get_ident())
    result = group.run(job)
    return result, structlog.contextvars.get_contextvars()


def test_a_batch_of_several_runs_without_its_leaders_message_ids_which_its_thread_gets_back() -> None:
    recorder = ContextRecorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8)
    jobs = ["upload-1", "upload-2", "upload-3"]
    with ThreadPoolExecutor(3) as pool:
        with batch_under_way(group, waiting=3):
            futures = [pool.submit(_run_as_its_message, group, job) for job in jobs]
        outcomes = [future.result(timeout=5) for future in futures]

    assert recorder.seen == [{}]
    for job, (result, left) in zip(jobs, outcomes, strict=True):
        assert result == f"{job}: together"
        assert left["message_id"] == f"id-of-{job}"


def test_a_batch_of_one_keeps_its_messages_ids() -> None:
    recorder = ContextRecorder()
    group = GroupCommit(recorder.run_together, recorder.run_alone, max_batch=8)

    assert _run_as_its_message(group, "upload-1")[0] == "upload-1: together"
    assert recorder.seen[0]["message_id"] == "id-of-upload-1"
