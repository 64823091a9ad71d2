"""How much of what the libraries log reaches docfleet's output."""

from __future__ import annotations

import logging
import re


def quiet_libraries() -> None:
    """The levels and filters of the libraries' loggers that docfleet sets, whatever the root's level."""
    logging.getLogger("pika").setLevel(logging.WARNING)
    # A connection pika could not open is raised to the code that tried, which says so in a line of
    # its own (Dramatiq's consumer, the relay, a command); pika's own lines about it, six an attempt
    # and every consumer retrying every few seconds, only bury that line.
    logging.getLogger("pika.adapters.utils.connection_workflow").setLevel(logging.CRITICAL)
    for name, reporting in _CONNECTION_OPENING.items():
        logger = logging.getLogger(name)
        if not any(isinstance(known, _UnopenedConnectionLines) for known in logger.filters):
            logger.addFilter(_UnopenedConnectionLines(reporting))
    for name in _TLS_REFUSAL_REPORTING:
        logger = logging.getLogger(name)
        if not any(isinstance(known, _TlsRefusalLines) for known in logger.filters):
            logger.addFilter(_TlsRefusalLines())
    # Its lines at INFO (plugins set up, the dialect, each migration run) would come with every look at
    # the schema: a worker's at boot, and ``docfleet migrate``'s, which says what it did on its own.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# pika's functions that report a connection that never opened (refused, timed out, a login or virtual
# host the broker turned down), by logger; a connection lost once open is still told.
_CONNECTION_OPENING = {
    "pika.adapters.base_connection": frozenset(
        {"_on_connection_workflow_done", "_handle_connection_workflow_failure"}
    ),
    "pika.adapters.blocking_connection": frozenset({"_create_connection"}),
    "pika.connection": frozenset({"_on_stream_terminated"}),
    "pika.adapters.utils.io_services_utils": frozenset({"_start_async", "_on_writable"}),
}


class _UnopenedConnectionLines(logging.Filter):
    def __init__(self, reporting: frozenset[str]) -> None:
        super().__init__()
        self._reporting = reporting

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName not in self._reporting


# A TLS refusal (a client certificate required, a server's certificate not trusted) ends the handshake,
# before AMQP's, but pika takes it for a connection lost once open: three lines, two with pika's own
# stack, an attempt. The code that tried says it in a line of its own, OpenSSL's reason in it.
_TLS_REFUSAL_REPORTING = ("pika.adapters.utils.io_services_utils", "pika.adapters.base_connection")
_HANDSHAKE_ALERTS = (  # those a server sends only as it refuses a handshake
    "CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_EXPIRED|"
    "CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|PROTOCOL_VERSION|"
    "INSUFFICIENT_SECURITY"
)
_TLS_REFUSAL = re.compile(rf"\[SSL: (?:\w+_ALERT_(?:{_HANDSHAKE_ALERTS})|CERTIFICATE_VERIFY_FAILED)\]")


class _TlsRefusalLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        told = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            told += repr(record.exc_info[1])
        return _TLS_REFUSAL.search(told) is None
