"""Fixtures of the fault suite: services of the scenario's own, and the ledger lines in the summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol

import pytest

from tests.faults.ledger import Ledger
from tests.support.services import default_settings, throwaway_settings
from workers.settings import Settings

LEDGER_LINES = pytest.StashKey[list[str]]()


class Report(Protocol):
    def __call__(self, scenario: str, ledger: Ledger, **fault: object) -> None: ...


@pytest.fixture
def fault_settings() -> Iterator[Settings]:
    """A migrated database, a vhost and a key prefix for this scenario alone: its ledger counts its own
    rows, and terminating "every backend of the database" touches no one else's."""
    with throwaway_settings(default_settings()) as settings:
        yield dataclasses.replace(settings, log_level="INFO")


@pytest.fixture
def report_ledger(request: pytest.FixtureRequest) -> Report:
    """Prints the scenario's ledger line now, past output capture, and again in the run's summary."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def report(scenario: str, ledger: Ledger, **fault: object) -> None:
        """``fault``: what the injection did, appended to the line (``killed_pid=...``)."""
        line = " ".join([ledger.line(scenario), *(f"{name}={value}" for name, value in fault.items())])
        request.config.stash.setdefault(LEDGER_LINES, []).append(line)
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line("")
                reporter.write_line(line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reported: list[str] = config.stash.get(LEDGER_LINES, [])
    lines = sorted(reported)  # "ledger scenario=<number>-...": in scenario order
    if lines:
        terminalreporter.section("fault ledgers")
        for line in lines:
            terminalreporter.write_line(line)
