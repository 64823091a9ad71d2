"""A RabbitMQ that refuses a connection's TLS (a client certificate required and not given) is told by
the code that tried, in one line, not by pika's three an attempt, two of them with pika's own stack."""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path
from urllib.parse import quote, urlsplit

import pika
import pika.exceptions
import pytest
import trustme

from tests.support.services import default_settings
from tests.support.tls_front import tls_front
from workers.logging import configure_logging

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_a_refused_tls_handshake_is_not_told_by_pikas_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # and the URL names no client certificate
    broker = urlsplit(default_settings().amqp_url)
    configure_logging("INFO", json_lines=True)

    with tls_front(broker.port or 5672, context) as front:
        options = quote(repr({"ca_certs": str(tmp_path / "ca.pem")}))
        url = f"amqps://guest:guest@localhost:{front.port}/%2F?connection_attempts=1&ssl_options={options}"
        with pytest.raises(pika.exceptions.AMQPConnectionError) as refused:  # as Dramatiq's consumers
            pika.BlockingConnection(pika.URLParameters(url))
    lost = [  # connections lost once open, to a reset or to an alert no handshake sends
        "connection_lost: StreamLostError: EOF",
        "connection_lost: SSLError(1, '[SSL: SSLV3_ALERT_BAD_RECORD_MAC] sslv3 alert bad record mac')",
    ]
    for line in lost:
        logging.getLogger("pika.adapters.base_connection").error(line)

    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]

    assert "CERTIFICATE_REQUIRED" in repr(refused.value)  # the reason reaches the code that tried
    assert events == lost  # still told
