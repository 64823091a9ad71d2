"""The rejections thread: jobs in the order given, one failing job stopping none behind it."""

from __future__ import annotations

import threading
from functools import partial

from workers.background import OneThreadInBackground


def test_jobs_run_in_order_on_one_thread_other_than_the_callers() -> None:
    background = OneThreadInBackground("test-background")
    ran: list[tuple[int, str]] = []

    def note(number: int) -> None:
        ran.append((number, threading.current_thread().name))

    for number in range(50):
        background.submit(partial(note, number))

    assert background.wait_idle(10)
    assert [number for number, _ in ran] == list(range(50))
    assert {name for _, name in ran} == {"test-background"}


def test_a_failing_job_stops_none_of_the_jobs_behind_it() -> None:
    background = OneThreadInBackground("test-background")
    ran: list[str] = []

    def fails() -> None:
        raise RuntimeError("Postgres went away")

    background.submit(fails)
    background.submit(lambda: ran.append("next"))

    assert background.wait_idle(10)
    assert ran == ["next"]


def test_waiting_for_idle_gives_up_on_a_job_still_running() -> None:
    background, release = OneThreadInBackground("test-background"), threading.Event()

    def held() -> None:
        release.wait(10)

    background.submit(held)

    assert not background.wait_idle(0.05)
    release.set()
    assert background.wait_idle(10)
