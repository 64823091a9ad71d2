"""Scenario 4: RabbitMQ's application stopped and started again under load (``rabbitmqctl stop_app`` /
``start_app``), on a node of the scenario's own. The producer sends again whatever was not confirmed;
workers and relay reconnect; what was unacked when the broker went away is delivered again."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from tests.faults.conftest import Report
from tests.faults.fleet import FleetShape
from tests.faults.harness import scenario
from tests.faults.rabbit_node import private_rabbitmq
from workers.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

UPLOADS = 1000
DOWN_FOR_S = 5.0


def test_4_rabbitmq_stop_app_and_start_app_under_load(
    fault_settings: Settings, tmp_path: Path, report_ledger: Report
) -> None:
    with private_rabbitmq() as node:
        settings = dataclasses.replace(fault_settings, amqp_url=node.amqp_url)
        with scenario(settings, tmp_path, FleetShape(processes=1)) as run:
            with run.load(uploads=UPLOADS, rate=100):
                run.wait_loaded(200)
                node.ctl("stop_app")
                stopped_at = time.monotonic()
                time.sleep(DOWN_FOR_S)  # the outage itself: producers, workers and relay all meet it
                node.ctl("start_app")
                down_for = time.monotonic() - stopped_at
            ledger = run.finish()
    report_ledger("4-rabbitmq-stop-start", ledger, broker_down_s=round(down_for, 1))
    assert ledger.resent > 0, "the producer met the outage and sent again what was not confirmed"
    assert ledger.problems() == []
