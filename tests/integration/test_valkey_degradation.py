"""An unavailable Valkey is a miss: never an error, one timeout per cool-down, a few log lines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
import valkey
from structlog.testing import capture_logs

from adapters.valkey.client import connect
from adapters.valkey.guard import CacheGuard
from adapters.valkey.listing_cache import ValkeyListingCache
from adapters.valkey.outage import LogLine, Outage
from tests.integration.test_valkey_support import (
    NOTHING_LISTENS,
    TTL_SECONDS,
    StallingServer,
    Switchable,
    a_listing,
    degraded_lines,
)
from tests.support.clocks import Clock
from tests.support.threads import run_together

pytestmark = pytest.mark.integration


@pytest.fixture
def stalling_server() -> Iterator[StallingServer]:
    server = StallingServer()
    yield server
    server.stop()


def test_an_unreachable_valkey_is_a_miss_and_logs_one_warning(key_prefix: str) -> None:
    with closing(connect(NOTHING_LISTENS)) as client, capture_logs() as logs:
        cache = ValkeyListingCache(client, key_prefix, TTL_SECONDS)
        for _ in range(50):
            assert cache.get("folder-1", 1) is None
            cache.put(a_listing("folder-1", 1, "doc-1"))
            cache.invalidate({"folder-1"})

    [line] = degraded_lines(logs)
    assert (line["event"], line["log_level"]) == ("valkey_cache_unavailable", "warning")
    assert "ConnectionError" in line["error"]


def test_a_valkey_that_does_not_answer_costs_one_timeout_per_cooldown(
    stalling_server: StallingServer, key_prefix: str
) -> None:
    with closing(connect(stalling_server.url, socket_timeout=0.5)) as client:
        guard = CacheGuard(client, clock=Clock())
        cache = ValkeyListingCache(client, key_prefix, TTL_SECONDS, guard=guard)

        results = [cache.get("folder-1", 1) for _ in range(20)]

    assert results == [None] * 20
    assert stalling_server.unanswered == ["HMGET"]  # one command waited for, and timed out; no retry
    assert stalling_server.connections == 1


def test_after_a_failure_valkey_is_skipped_until_the_cooldown_ends(dead: valkey.Valkey) -> None:
    client = Switchable(dead)
    clock = Clock()
    guard = CacheGuard(client.as_client(), cooldown_seconds=1.0, clock=clock)
    cache = ValkeyListingCache(client.as_client(), "p:", TTL_SECONDS, guard=guard)
    cache.get("folder-1", 1)
    tried = client.calls

    clock.now += 0.9
    cache.get("folder-1", 1)
    assert client.calls == tried
    clock.now += 0.2
    cache.get("folder-1", 1)
    assert client.calls > tried


def test_the_log_says_how_many_calls_degraded_at_most_once_per_interval(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(dead)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock, outage=Outage(report_every_seconds=30))
    cache = ValkeyListingCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)

    with capture_logs() as logs:
        for _ in range(100):  # a warning at 0 s, then 99 degraded calls over 49.5 s: one line, at 30 s
            cache.get("folder-1", 1)
            clock.now += 0.5
        client.target = live
        clock.now += 1
        cache.get("folder-1", 1)
        cache.get("folder-1", 1)

    lines = [(line["event"], line["log_level"], line["degraded_calls"]) for line in degraded_lines(logs)]
    assert lines == [
        ("valkey_cache_unavailable", "warning", 1),
        ("valkey_cache_still_unavailable", "warning", 60),
        ("valkey_cache_recovered", "info", 39),
    ]


def test_a_flapping_valkey_is_announced_at_most_once_per_interval(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(dead)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock)
    cache = ValkeyListingCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)

    with capture_logs() as logs:
        for flap in range(10):
            client.target = dead if flap % 2 == 0 else live
            cache.get("folder-1", 1)
            clock.now += 2

    assert [line["event"] for line in degraded_lines(logs)] == [
        "valkey_cache_unavailable",
        "valkey_cache_recovered",
    ]


class _OneCallerAtATime(Outage):
    """An ``Outage`` that notes whether two threads were ever inside it at once. It is not thread-safe on
    its own: the guard's lock is what keeps its callers apart. Each call, once inside, lets other threads
    run (the GIL is released), so callers the lock does not hold back do meet inside."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self._inside = 0
        self.overlapped = False

    def failed(self, now: float, error: Exception) -> LogLine | None:
        with self._alone():
            return super().failed(now, error)

    def skipped(self, now: float) -> LogLine | None:
        with self._alone():
            return super().skipped(now)

    @contextmanager
    def _alone(self) -> Iterator[None]:
        with self._count_lock:
            self._inside += 1
            self.overlapped |= self._inside > 1
        time.sleep(0)
        try:
            yield
        finally:
            with self._count_lock:
                self._inside -= 1


def test_threads_sharing_a_guard_degrade_together_with_one_warning(dead: valkey.Valkey) -> None:
    clock = Clock()  # stands still: no cool-down ends and no report is due while the threads run
    outage = _OneCallerAtATime()
    cache = ValkeyListingCache(dead, "p:", TTL_SECONDS, guard=CacheGuard(dead, clock=clock, outage=outage))

    def hammer(_: int) -> None:
        for index in range(200):
            assert cache.get(f"folder-{index}", 1) is None
            cache.invalidate({f"folder-{index}"})

    with capture_logs() as logs:
        errors = run_together(hammer, 8)  # all meet the first failure together
        clock.now += 31  # past the cool-down and the report interval: the next call probes and reports
        cache.get("folder-1", 1)

    assert errors == []
    assert not outage.overlapped
    lines = [(line["event"], line["degraded_calls"]) for line in degraded_lines(logs)]
    # Every one of the 8 * 200 * 2 calls and the last probe counted once, the first in the warning.
    assert lines == [("valkey_cache_unavailable", 1), ("valkey_cache_still_unavailable", 8 * 200 * 2)]
