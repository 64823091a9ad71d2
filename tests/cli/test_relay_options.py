"""``docfleet relay`` passes its pacing to the relay, from its flags or the environment."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli.support import run
from tests.support.services import default_settings
from workers.relay import RelayOptions


@pytest.fixture
def started_with(monkeypatch: pytest.MonkeyPatch) -> list[RelayOptions]:
    """The options each ``docfleet relay`` would have run with; nothing runs, no signal handler is set."""
    seen: list[RelayOptions] = []

    def run_relay(_settings: Any, _stop: Any, *, options: RelayOptions) -> None:
        seen.append(options)

    monkeypatch.setattr("workers.relay.run_relay", run_relay)
    monkeypatch.setattr("workers.logging.configure_logging", lambda _level: None)
    monkeypatch.setattr("workers.stopping.SignalStop.install", lambda stop, *_signals: stop)
    return seen


def test_the_relay_gathers_for_20_ms_once_events_come_at_1000_a_second_by_default(
    started_with: list[RelayOptions],
) -> None:
    assert run(default_settings(), "relay").exit_code == 0
    [options] = started_with
    assert (options.busy_rate, options.busy_window) == (1000.0, 0.02)


def test_the_pacing_comes_from_the_flags_or_the_environment(started_with: list[RelayOptions]) -> None:
    flags = ("--busy-rate", "400", "--busy-window-ms", "5")
    assert run(default_settings(), "relay", *flags).exit_code == 0
    environment = {"RELAY_BUSY_WINDOW_MS": "0", "RELAY_BUSY_RATE": "2500"}
    assert run(default_settings(), "relay", **environment).exit_code == 0
    chosen = [(o.busy_rate, o.busy_window) for o in started_with]
    assert chosen == [(400.0, 0.005), (2500.0, 0.0)]
