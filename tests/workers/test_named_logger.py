"""A logger built once per structlog configuration, and again after every change of it."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from structlog.testing import capture_logs

from workers.json_lines import json_line
from workers.logging import configure_logging
from workers.named_logger import NamedLogger

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_a_named_logger_is_built_once_per_configuration() -> None:
    configure_logging("INFO", json_lines=True)
    log = NamedLogger("docfleet.test")

    first = log()
    assert log() is first, "built once while the configuration stands"
    with capture_logs() as captured:
        log().info("captured", n=1)
    configure_logging("WARNING", json_lines=True)

    assert captured == [{"n": 1, "event": "captured", "log_level": "info"}]
    assert log() is not first
    assert not log().is_enabled_for(logging.INFO), "the new level holds"


def test_lines_of_a_named_logger_follow_a_new_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    log = NamedLogger("docfleet.test")
    configure_logging("INFO", json_lines=True)
    log().info("first")
    structlog.configure(processors=[structlog.processors.JSONRenderer(json_line)])
    log().info("second")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    assert [line["event"] for line in lines] == ["first", "second"]
    assert "level" in lines[0]
    assert "level" not in lines[1], "the second line went through the new processors"
