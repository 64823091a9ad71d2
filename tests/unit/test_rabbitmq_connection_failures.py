"""Why a connection to RabbitMQ failed, told in words a user can act on, whatever pika wrapped it in."""

from __future__ import annotations

import socket
import ssl

import pika.exceptions
import pytest
from pika.adapters.utils.connection_workflow import (
    AMQPConnectionWorkflowFailed,
    AMQPConnectorSocketConnectError,
    AMQPConnectorStackTimeout,
)

from adapters.rabbitmq.connection_failures import connection_failure


def _raised_from(error: BaseException, cause: BaseException) -> BaseException:
    """``error`` as ``raise error from cause`` leaves it (``open_blocking_connection``)."""
    error.__cause__ = cause
    return error


_HANDSHAKE = "Timeout during AMQP handshake'127.0.0.1'/(<AddressFamily.AF_INET: 2>, ...); ssl=False"
_ABORTED = (
    "Connection.close() called before connection finished opening: prev_state=PROTOCOL (320):"
    " \"Timeout while setting up AMQP to '127.0.0.1'/(...)\""
)


def _as_pika_reports(cause: BaseException) -> BaseException:
    """The layers pika's connection workflow puts around a socket's error."""
    failed = AMQPConnectionWorkflowFailed([AMQPConnectorSocketConnectError(cause)])
    reported: BaseException = pika.exceptions.AMQPConnectionError(failed)
    return reported


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (
            _as_pika_reports(ConnectionRefusedError(111, "Connection refused")),
            "connection refused: is RabbitMQ",
        ),
        (_as_pika_reports(socket.gaierror(-2, "Name or service not known")), "the host name could not be"),
        (AMQPConnectionWorkflowFailed([AMQPConnectorStackTimeout("timed out")]), "no answer in time"),
        (
            _raised_from(
                pika.exceptions.AMQPConnectionError(f"AMQPConnectorStackTimeout: {_HANDSHAKE}"),
                AMQPConnectorStackTimeout(_HANDSHAKE),
            ),
            "no answer in time",
        ),
        (pika.exceptions.ConnectionOpenAborted(_ABORTED), "no answer in time"),
        (
            pika.exceptions.IncompatibleProtocolError(
                pika.exceptions.StreamLostError("Transport indicated EOF")
            ),
            "the server closed the connection before AMQP's handshake: is that RabbitMQ's host and port?",
        ),
        (  # as pika reports a broker that requires a client certificate (fail_if_no_peer_cert)
            pika.exceptions.IncompatibleProtocolError(
                "StreamLostError: (\"Stream connection lost: SSLError(1, '[SSL:"
                " TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)')\",)"
            ),
            "the server requires a client certificate: name one in AMQP_URL's ssl_options (certfile,"
            " keyfile)",
        ),
        (  # TLS 1.2's alert, with no more said
            pika.exceptions.IncompatibleProtocolError(
                "StreamLostError: (\"Stream connection lost: SSLError(1, '[SSL:"
                " SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:2580)')\",)"
            ),
            "TLS failed: sslv3 alert handshake failure (if the server requires a client certificate,",
        ),
        (  # a reason with quotes, as pika escapes them in its text
            pika.exceptions.IncompatibleProtocolError(
                'StreamLostError: ("Stream connection lost: SSLCertVerificationError(1, "[SSL:'
                " CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not"
                " valid for \\'localhost\\'. (_ssl.c:1006)\")\",)"
            ),
            "TLS failed: certificate verify failed: Hostname mismatch, certificate is not valid for"
            " 'localhost'",
        ),
        (
            _as_pika_reports(
                ssl.SSLCertVerificationError(
                    1,
                    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer"
                    " certificate (_ssl.c:1006)",
                )
            ),
            "TLS failed: certificate verify failed: unable to get local issuer certificate",
        ),
        (
            pika.exceptions.ConnectionClosedByBroker(403, "ACCESS_REFUSED - Login was refused using PLAIN"),
            "login refused: check the user name and password in AMQP_URL",
        ),
        (
            pika.exceptions.ProbableAuthenticationError("ConnectionClosedByBroker: (403) 'ACCESS_REFUSED'"),
            "login refused: check the user name and password in AMQP_URL",
        ),
        (
            pika.exceptions.ProbableAccessDeniedError(
                "ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost x'"
            ),
            "the virtual host does not exist, or the user may not use it: check AMQP_URL's path"
            " (RabbitMQ: vhost x)",
        ),
        (
            pika.exceptions.ConnectionClosedByBroker(
                530, "NOT_ALLOWED - access to vhost 'v' refused for user 'u': connection limit (0) is reached"
            ),
            "the virtual host's or the user's connection limit is reached (RabbitMQ: access to vhost ",
        ),
        (_as_pika_reports(OSError(113, "No route to host")), "No route to host"),
        (
            pika.exceptions.ChannelClosedByBroker(403, "ACCESS_REFUSED - access to queue 'q' refused"),
            "access refused: the user lacks a permission it needs",
        ),
    ],
    ids=[
        "refused",
        "unknown host",
        "timed out",
        "handshake timed out, raised from",
        "handshake aborted by pika",
        "not AMQP there",
        "client certificate required",
        "TLS 1.2 handshake failure",
        "host name mismatch",
        "server certificate not trusted",
        "bad login",
        "probable bad login",
        "no such vhost",
        "connection limit",
        "other socket error",
        "no right",
    ],
)
def test_the_cause_is_told_in_a_few_words(error: BaseException, told: str) -> None:
    assert connection_failure(error).startswith(told)


def test_an_unforeseen_error_is_told_by_its_type_and_first_line() -> None:
    assert connection_failure(RuntimeError("first\nsecond")) == "RuntimeError: first"
