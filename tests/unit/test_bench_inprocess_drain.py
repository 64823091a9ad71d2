"""The in-process phase's runners: a command that raises fails the phase instead of ending its thread
unseen, and an interruption stops the runners before the harness cleans up under them."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bench.inprocess import _drain, _run_all
from domain.use_cases.dispatch import Outcome


class _RaisingOnce:
    def __init__(self, failing: str) -> None:
        self.failing, self.executed = failing, 0

    def execute(self, command: Any, *, message_id: str, actor: str) -> Outcome:
        if message_id == self.failing:
            raise ValueError("the database went away")
        self.executed += 1
        return Outcome.APPLIED


def test_a_command_that_raises_fails_the_phase() -> None:
    work = [(f"m-{index}", "upload_document", object()) for index in range(40)]
    app = _RaisingOnce(failing="m-7")

    with pytest.raises(RuntimeError, match=r"1 in-process commands not applied.*m-7: ValueError"):
        _drain(app, work, "test", threads=4)  # type: ignore[arg-type]
    assert app.executed == 39  # the failing thread went on with its share


class _InterruptedStart(threading.Thread):
    def start(self) -> None:
        raise KeyboardInterrupt


def test_an_interruption_stops_the_runners_and_waits_for_them() -> None:
    stop, ran, entered = threading.Event(), [], threading.Event()

    def run() -> None:
        entered.set()
        while not stop.wait(0.01):
            ran.append(1)
            if len(ran) > 10_000:
                return  # never stopped: the assertion below fails

    runner = threading.Thread(target=run)
    with pytest.raises(KeyboardInterrupt):
        _run_all([runner, _InterruptedStart()], stop)

    assert stop.is_set()
    assert not runner.is_alive()
    assert entered.is_set()
