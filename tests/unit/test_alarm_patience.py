"""When a publisher waits out a resource alarm: ``ConfirmedChannel._waits_out_alarm``, on its own state
(connecting needs a server: tests/faults/test_rabbitmq_alarm.py runs the whole of it on one)."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.rabbitmq.publisher import EventPublisher

TIMEOUT_S = 10.0


def publisher_in_state(
    *, stop: threading.Event | None, blocked: bool, unblocked_ago: float | None = None
) -> EventPublisher:
    publisher = object.__new__(EventPublisher)  # its state alone, without a connection
    publisher._wait_out_alarms = stop
    publisher._blocked = blocked
    publisher._unblocked_at = -float("inf") if unblocked_ago is None else time.monotonic() - unblocked_ago
    return publisher


def test_a_blocked_connection_is_waited_on() -> None:
    assert publisher_in_state(stop=threading.Event(), blocked=True)._waits_out_alarm(TIMEOUT_S)


@pytest.mark.parametrize(("unblocked_ago", "waits"), [(TIMEOUT_S / 2, True), (TIMEOUT_S * 2, False)])
def test_after_the_alarm_clears_the_held_batch_gets_a_whole_timeout(
    unblocked_ago: float, waits: bool
) -> None:
    """RabbitMQ routes what it held only once it unblocks: its confirms may come just after."""
    publisher = publisher_in_state(stop=threading.Event(), blocked=False, unblocked_ago=unblocked_ago)

    assert publisher._waits_out_alarm(TIMEOUT_S) is waits


def test_a_stop_or_no_stop_flag_at_all_means_no_waiting_out() -> None:
    stopped = threading.Event()
    stopped.set()

    assert not publisher_in_state(stop=stopped, blocked=True)._waits_out_alarm(TIMEOUT_S)
    assert not publisher_in_state(stop=None, blocked=True)._waits_out_alarm(TIMEOUT_S)


def test_a_connection_never_blocked_times_out_as_before() -> None:
    assert not publisher_in_state(stop=threading.Event(), blocked=False)._waits_out_alarm(TIMEOUT_S)
