"""``docfleet health`` against a RabbitMQ that goes silent once the probe's connection is open."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from adapters.rabbitmq.queue_states import QueueStates
from tests.support.frozen_link import FreezableLink
from workers.cli.health import PROBE_TIMEOUT_SECONDS, _check, _open_probe_connection
from workers.cli.health_workers import workers_consume
from workers.settings import Settings

pytestmark = pytest.mark.integration

# The heartbeat's check runs every timeout + 5 s and ends a connection that heard nothing since the
# check before: at most two checks after the silence began, and a little for closing.
GIVES_UP_WITHIN_S = 3 * (PROBE_TIMEOUT_SECONDS + 5)


def test_a_broker_silent_after_the_handshake_fails_the_workers_check_instead_of_hanging(
    settings: Settings,
) -> None:
    parts = urlsplit(settings.amqp_url)
    with FreezableLink((parts.hostname or "127.0.0.1", parts.port or 5672)) as link:
        credentials = parts.netloc.rpartition("@")[0]
        through_link = urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{link.port}"))
        connection = _open_probe_connection(through_link)
        link.freeze()
        started = time.monotonic()
        with QueueStates(connection) as states:
            check = _check("workers", through_link, lambda: workers_consume(states))
        waited = time.monotonic() - started

    assert not check.ok
    assert check.detail.startswith(f"127.0.0.1:{link.port}")
    assert waited < GIVES_UP_WITHIN_S, f"gave up after {waited:.1f} s"
