"""When a publisher waits out a resource alarm (``adapters.rabbitmq.alarms.AlarmWatch``); the whole of it
runs on a RabbitMQ node of its own in tests/faults/test_rabbitmq_alarm.py."""

from __future__ import annotations

import threading

from adapters.rabbitmq.alarms import AlarmWatch
from tests.support.clocks import Clock

TIMEOUT_S = 10.0


def watch_with_stop() -> tuple[AlarmWatch, threading.Event, Clock]:
    stop, clock = threading.Event(), Clock()
    return AlarmWatch(stop, clock), stop, clock


def test_a_connection_never_blocked_times_out_as_before() -> None:
    watch, _stop, _clock = watch_with_stop()

    assert not watch.holds(TIMEOUT_S)


def test_a_blocked_connection_is_waited_on_until_a_whole_timeout_after_the_unblock() -> None:
    """RabbitMQ routes what it held only once it unblocks: the confirms may come just after."""
    watch, _stop, clock = watch_with_stop()
    watch.on_blocked(None, None)
    clock.now += 3 * TIMEOUT_S
    assert watch.holds(TIMEOUT_S)

    watch.on_unblocked(None, None)
    clock.now += TIMEOUT_S - 0.1
    assert watch.holds(TIMEOUT_S)
    clock.now += 0.2
    assert not watch.holds(TIMEOUT_S)


def test_without_a_stop_flag_nothing_is_waited_out() -> None:
    watch = AlarmWatch(None)
    watch.on_blocked(None, None)

    assert not watch.holds(TIMEOUT_S)
    assert not watch.stop_asked()


def test_the_stop_is_told_apart_from_the_alarm() -> None:
    watch, stop, _clock = watch_with_stop()
    watch.on_blocked(None, None)
    assert not watch.stop_asked()

    stop.set()

    assert watch.holds(TIMEOUT_S), "still blocked: the wait ends because of the stop, and says so"
    assert watch.stop_asked()
