"""The rejections thread: jobs in the order given, one failing job stopping none behind it."""

from __future__ import annotations

import threading
import time
import uuid
from functools import partial

from tests.support.threads import run_together
from workers.background import OneThreadInBackground


def _ran_all(background: OneThreadInBackground) -> bool:
    """Whether every job submitted so far has run: a last job, run after them, says so."""
    done = threading.Event()
    background.submit(done.set)
    return done.wait(10)


def test_jobs_run_in_order_on_one_thread_other_than_the_callers() -> None:
    background = OneThreadInBackground("test-background")
    ran: list[tuple[int, str]] = []

    def note(number: int) -> None:
        ran.append((number, threading.current_thread().name))

    for number in range(50):
        background.submit(partial(note, number))

    assert _ran_all(background)
    assert [number for number, _ in ran] == list(range(50))
    assert {name for _, name in ran} == {"test-background"}


def test_a_failing_job_stops_none_of_the_jobs_behind_it() -> None:
    background = OneThreadInBackground("test-background")
    ran: list[str] = []

    def fails() -> None:
        raise RuntimeError("Postgres went away")

    background.submit(fails)
    background.submit(lambda: ran.append("next"))

    assert _ran_all(background)
    assert ran == ["next"]


class _SlowToStart(threading.Thread):
    """A thread whose start first waits a while, as on a busy machine: a submitter that checks for a
    live thread meanwhile finds none, and starts one of its own unless the submitters take turns."""

    def start(self) -> None:
        time.sleep(0.05)
        super().start()


def test_jobs_submitted_from_many_threads_start_one_thread_only() -> None:
    name = f"test-background-{uuid.uuid4().hex}"
    background = OneThreadInBackground(name, thread_type=_SlowToStart)
    threads: set[int] = set()
    ran = threading.Semaphore(0)

    def note() -> None:
        threads.add(threading.get_ident())
        ran.release()

    errors = run_together(lambda _: background.submit(note), 20)

    assert errors == []
    assert all(ran.acquire(timeout=10) for _ in range(20))
    assert len(threads) == 1
    # A thread started by mistake stays alive, waiting for jobs, even if it got none of these.
    assert [thread.name for thread in threading.enumerate()].count(name) == 1
