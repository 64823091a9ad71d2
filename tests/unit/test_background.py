"""The rejections thread: jobs in the order given, one failing job stopping none behind it."""

from __future__ import annotations

import threading
from functools import partial

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


def test_jobs_submitted_from_many_threads_start_one_thread_only() -> None:
    background = OneThreadInBackground("test-background")
    threads: set[int] = set()
    ran = threading.Semaphore(0)

    def note() -> None:
        threads.add(threading.get_ident())
        ran.release()

    submitters = [threading.Thread(target=background.submit, args=(note,)) for _ in range(20)]
    for submitter in submitters:
        submitter.start()
    for submitter in submitters:
        submitter.join()

    assert all(ran.acquire(timeout=10) for _ in range(20))
    assert len(threads) == 1
