"""Events nobody subscribed to: the first warning at once, then one sum per interval, nothing dropped."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from structlog.testing import capture_logs

from adapters.rabbitmq.unroutable import NAMED_UNROUTABLE, UnroutableWarnings
from tests.support.clocks import Clock


def warnings(logs: list[MutableMapping[str, Any]]) -> list[tuple[int, dict[str, int], list[str]]]:
    return [
        (entry["count"], entry["routing_keys"], entry["event_ids"])
        for entry in logs
        if entry["event"] == "events had no subscriber"
    ]


def test_the_first_returned_events_are_logged_at_once() -> None:
    with capture_logs() as logs:
        UnroutableWarnings(60.0, Clock()).add([("member.added", "e1"), ("member.added", "e2")])

    assert warnings(logs) == [(2, {"member.added": 2}, ["e1", "e2"])]


def test_later_ones_are_summed_until_the_interval_has_passed() -> None:
    clock = Clock()
    unroutable = UnroutableWarnings(60.0, clock)
    with capture_logs() as logs:
        unroutable.add([("member.added", "e1")])
        clock.now += 10
        unroutable.add([("member.added", "e2")])
        clock.now += 10
        unroutable.add([("folder.created", "e3")])
        unroutable.warn_when_due()
        quiet = list(logs)
        clock.now += 40
        unroutable.warn_when_due()

    assert warnings(quiet) == [(1, {"member.added": 1}, ["e1"])]
    assert warnings(logs)[1:] == [(2, {"member.added": 1, "folder.created": 1}, ["e2", "e3"])]


def test_what_is_left_is_logged_when_asked_and_nothing_twice() -> None:
    clock = Clock()
    unroutable = UnroutableWarnings(60.0, clock)
    with capture_logs() as logs:
        unroutable.add([("member.added", "e1")])
        unroutable.add([("member.added", "e2")])
        unroutable.warn_now()
        unroutable.warn_now()

    assert warnings(logs) == [(1, {"member.added": 1}, ["e1"]), (1, {"member.added": 1}, ["e2"])]


def test_ids_are_named_up_to_the_limit_and_every_event_is_counted() -> None:
    clock = Clock()
    unroutable = UnroutableWarnings(60.0, clock)
    with capture_logs() as logs:
        unroutable.add([])
        for index in range(NAMED_UNROUTABLE + 5):
            unroutable.add([("member.added", f"e{index}")])
            clock.now += 1
        unroutable.warn_now()

    (first, second) = warnings(logs)
    assert first == (1, {"member.added": 1}, ["e0"])
    assert second[0] == NAMED_UNROUTABLE + 4
    assert second[2] == [f"e{index}" for index in range(1, NAMED_UNROUTABLE + 1)]
