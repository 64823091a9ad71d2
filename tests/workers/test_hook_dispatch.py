"""Hooks dispatched only to the middleware that implement them: the same calls, order and failures as
Dramatiq's own loop."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, MiddlewareError

from workers.broker import OwnHooksStubBroker
from workers.hook_dispatch import implemented_hooks


class Recording(Middleware):
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def before_process_message(self, broker: Any, message: Any) -> None:
        self.calls.append(f"{self.name}.before_process_message({message})")

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        self.calls.append(f"{self.name}.after_process_message({message}, {result}, {exception})")

    def after_ack(self, broker: Any, message: Any) -> None:
        self.calls.append(f"{self.name}.after_ack({message})")


class Silent(Middleware):
    """Implements nothing: Dramatiq calls its empty hooks, the table leaves it out."""


class Failing(Middleware):
    def after_process_message(self, broker: Any, message: Any, **outcome: Any) -> None:
        raise RuntimeError("after hook broke")

    def before_ack(self, broker: Any, message: Any) -> None:
        raise RuntimeError("before hook broke")


class Refusing(Middleware):
    def before_process_message(self, broker: Any, message: Any) -> None:
        raise MiddlewareError("skip it")


def _emit_all(broker: StubBroker) -> None:
    broker.emit_before("process_message", "m1")
    broker.emit_after("process_message", "m1", result=42)
    broker.emit_before("ack", "m1")
    broker.emit_after("ack", "m1")


def _calls_through(
    broker_class: type[StubBroker], caplog: pytest.LogCaptureFixture
) -> tuple[list[str], list[str]]:
    calls: list[str] = []
    middleware = [Recording("a", calls), Silent(), Failing(), Recording("b", calls)]
    broker = broker_class(middleware=middleware)
    broker.add_middleware(Recording("late", calls), after=Silent)
    caplog.clear()
    with caplog.at_level(logging.CRITICAL):
        _emit_all(broker)
    return calls, [record.getMessage() for record in caplog.records]


def test_hooks_run_as_under_dramatiqs_loop_in_order_with_failures_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected_calls, expected_lines = _calls_through(StubBroker, caplog)
    calls, lines = _calls_through(OwnHooksStubBroker, caplog)

    assert calls == expected_calls
    assert calls[0] == "a.before_process_message(m1)"
    assert calls[3] == "b.after_process_message(m1, 42, None)"  # after hooks in reverse order
    assert "late.after_ack(m1)" in calls  # a middleware added after the broker was built
    assert [line.split(" of ")[0] for line in lines] == [
        "Unexpected failure in after_process_message",
        "Unexpected failure in before_ack",
    ]
    assert [line.split(" of ")[0] for line in expected_lines] == [line.split(" of ")[0] for line in lines]
    assert all("Failing" in line for line in lines)


def test_a_middleware_error_before_processing_stops_the_loop_as_dramatiqs_does() -> None:
    calls: list[str] = []
    broker = OwnHooksStubBroker(middleware=[Refusing(), Recording("after-refusal", calls)])

    with pytest.raises(MiddlewareError):
        broker.emit_before("process_message", "m1")
    assert calls == []


def test_the_table_leaves_out_empty_hooks_and_reverses_after_hooks() -> None:
    calls: list[str] = []
    first, second = Recording("first", calls), Recording("second", calls)

    table = implemented_hooks([first, Silent(), second])

    assert [hook.__self__ for hook in table["before_process_message"]] == [first, second]  # type: ignore[attr-defined]
    assert [hook.__self__ for hook in table["after_ack"]] == [second, first]  # type: ignore[attr-defined]
    assert table["before_nack"] == ()


def test_a_signal_without_a_hook_name_goes_to_dramatiqs_loop() -> None:
    class Custom(Middleware):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def before_custom_signal(self, broker: Any, value: str) -> None:
            self.seen.append(value)

    custom = Custom()
    broker = OwnHooksStubBroker(middleware=[custom])

    broker.emit_before("custom_signal", "x")

    assert custom.seen == ["x"]
