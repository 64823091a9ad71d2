"""Which refused events wait, which are due again, and when one is given up."""

from __future__ import annotations

from tests.support.clocks import Clock
from workers.relay_refusals import RefusedEvents


def test_a_refused_event_waits_twice_as_long_each_time_then_is_given_up() -> None:
    clock = Clock(100.0)
    refusals = RefusedEvents(attempts=4, first_wait=1.0, clock=clock)
    waits = []
    for _ in range(3):
        assert refusals.settle(["e1"], {"e1"}) == set()
        started = clock.now
        while refusals.waiting("e1"):
            clock.now += 0.25
        waits.append(clock.now - started)

    assert waits == [1.0, 2.0, 4.0]
    assert refusals.settle(["e1"], {"e1"}) == {"e1"}  # the fourth refusal
    assert not refusals.waiting("e1")
    assert len(refusals) == 0


def test_an_event_confirmed_after_a_refusal_is_forgotten_and_others_never_wait() -> None:
    clock = Clock(100.0)
    refusals = RefusedEvents(attempts=2, first_wait=1.0, clock=clock)

    refusals.settle(["e1", "e2"], {"e1"})
    assert refusals.waiting("e1")
    assert not refusals.waiting("e2")
    clock.now += 1.0
    assert refusals.settle(["e1"], set()) == set()

    assert len(refusals) == 0
    assert refusals.settle(["e1"], {"e1"}) == set()  # counted from the start again


def test_by_default_an_event_is_sent_six_times_one_to_sixteen_seconds_apart() -> None:
    """The schedule docs/contract.md promises consumers whose full queue refuses events."""
    from workers.relay import RelayOptions

    options = RelayOptions()
    clock = Clock(100.0)
    refusals = RefusedEvents(
        attempts=options.refusal_attempts, first_wait=options.refusal_first_wait, clock=clock
    )
    waits: list[float] = []
    while not refusals.settle(["e1"], {"e1"}) and len(waits) < 10:
        started = clock.now
        while refusals.waiting("e1"):
            clock.now += 0.25
        waits.append(clock.now - started)

    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]  # then the sixth refusal gives it up
