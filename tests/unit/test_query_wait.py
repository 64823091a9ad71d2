"""How the client waits for a query's answer: whole seconds while they last, then quick reads."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
from dramatiq.results import ResultTimeout

from workers.client import results


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _SilentBackend:
    """Never has the answer; each read takes the time it was allowed to block."""

    def __init__(self, clock: _Clock, socket_timeout: float | None) -> None:
        self.clock, self.reads_ms = clock, list[int]()
        self.client = type("Client", (), {})()
        self.client.connection_pool = type(
            "Pool", (), {"connection_kwargs": {"socket_timeout": socket_timeout}}
        )()

    def get_result(self, message: Any, *, block: bool, timeout: int) -> Any:
        self.reads_ms.append(timeout)
        self.clock.now += timeout / 1000
        raise ResultTimeout("no answer")  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(("socket_timeout", "blocking"), [(None, [2000]), (5.0, [2000]), (2.0, [1000, 1000])])
def test_a_fractional_timeout_is_waited_for_not_rounded_up(
    monkeypatch: pytest.MonkeyPatch, socket_timeout: float | None, blocking: list[int]
) -> None:
    clock = _Clock()
    monkeypatch.setattr(results, "time", clock)
    backend = _SilentBackend(clock, socket_timeout)
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents-queries", actor_name="list_folder", args=(), kwargs={}, options={}
    )

    with pytest.raises(ResultTimeout):
        results._wait_in_slices(backend, message, 2.5)  # type: ignore[arg-type]

    assert [ms for ms in backend.reads_ms if ms > 0] == blocking
    assert 2.5 <= clock.now < 2.5 + results.POLL_INTERVAL_S + 1e-9, "waited past the timeout"
