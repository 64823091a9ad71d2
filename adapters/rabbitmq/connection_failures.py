"""Why a connection to RabbitMQ could not be opened, in words a user can act on.

pika wraps the cause in layers (a workflow's failure, holding each attempt's, holding the socket's
error) and names them all in its message: "AMQPConnectionError: (AMQPConnectionWorkflowFailed: 1
exceptions in all; last exception - AMQPConnectorSocketConnectError: ConnectionRefusedError(111, ...".
"""

from __future__ import annotations

import re
import socket

import pika.exceptions
from pika.adapters.utils.connection_workflow import AMQPConnectorStackTimeout

_DEPTH = 6  # pika's layers are three or four deep
_OPENSSL_REASON = re.compile(r"\[SSL: (?P<code>[A-Z0-9_]+)\] (?P<reason>.+?)\.? \(_ssl\.c:\d+\)")
_CERTIFICATE_ASKED = "name one in AMQP_URL's ssl_options (certfile, keyfile)"


def connection_failure(error: BaseException) -> str:
    """The cause of ``error``, raised or reported while opening a connection, in a few words."""
    layers = _layers(error)
    cause = layers[-1]
    told = f"{type(cause).__name__}: {cause}"
    if isinstance(cause, pika.exceptions.ProbableAuthenticationError) or "Login was refused" in told:
        return "login refused: check the user name and password in AMQP_URL"
    if "ACCESS_REFUSED" in told:
        return f"access refused: the user lacks a permission it needs ({told[:200]})"
    if isinstance(cause, pika.exceptions.ProbableAccessDeniedError) or "NOT_ALLOWED" in told:
        return _not_allowed(told)
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: is RabbitMQ running, at that host and port?"
    if isinstance(cause, socket.gaierror):
        return f"the host name could not be resolved ({cause.strerror})"
    if isinstance(cause, TimeoutError | AMQPConnectorStackTimeout) or _timed_out_opening(cause):
        return "no answer in time"
    if tls_refusal := _tls_refusal(" ".join(f"{layer!r} {layer}" for layer in layers)):
        return tls_refusal
    if any(isinstance(layer, pika.exceptions.IncompatibleProtocolError) for layer in layers):
        return "the server closed the connection before AMQP's handshake: is that RabbitMQ's host and port?"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return told.splitlines()[0][:300] if told.strip() else type(cause).__name__


def _tls_refusal(told: str) -> str | None:
    """OpenSSL's reason, where TLS failed: pika keeps it only as text, inside the stream it lost."""
    found = _OPENSSL_REASON.search(re.sub(r"\\+'", "'", told))  # quotes escaped once per repr
    if found is None:
        return None
    if found["code"].endswith("CERTIFICATE_REQUIRED"):  # TLS 1.3's alert
        return f"the server requires a client certificate: {_CERTIFICATE_ASKED}"
    if found["code"] == "SSLV3_ALERT_HANDSHAKE_FAILURE":  # TLS 1.2's, for that among other causes
        maybe = f"if the server requires a client certificate, {_CERTIFICATE_ASKED}"
        return f"TLS failed: {found['reason']} ({maybe})"
    return f"TLS failed: {found['reason']}"


def _not_allowed(told: str) -> str:
    """RabbitMQ's refusal of the virtual host: a connection limit reached, or the host unknown or not the
    user's, with the broker's own words where pika kept them."""
    _, found, said = told.partition("NOT_ALLOWED - ")
    said = said.splitlines()[0].rstrip("'\"), ") if found else ""  # out of pika's quotes and brackets
    words = f" (RabbitMQ: {said[:200]})" if said else ""
    if "connection limit" in told:
        return f"the virtual host's or the user's connection limit is reached{words}"
    return f"the virtual host does not exist, or the user may not use it: check AMQP_URL's path{words}"


def _timed_out_opening(cause: BaseException) -> bool:
    """pika's own close of a connection whose handshake took too long (a server that is not RabbitMQ)."""
    return isinstance(cause, pika.exceptions.ConnectionOpenAborted) and "Timeout" in str(cause)


def _layers(error: BaseException) -> list[BaseException]:
    """``error`` and the causes in pika's layers, and behind an error raised ``from`` one
    (``open_blocking_connection``), outermost first."""
    layers = [error]
    for _ in range(_DEPTH):
        attempts = getattr(error, "exceptions", None)
        wrapped = getattr(error, "exception", None)
        if isinstance(attempts, list | tuple) and attempts and isinstance(attempts[-1], BaseException):
            error = attempts[-1]
        elif isinstance(wrapped, BaseException):
            error = wrapped
        elif error.args and isinstance(error.args[0], BaseException):
            error = error.args[0]
        elif error.__cause__ is not None:
            error = error.__cause__
        else:
            break
        layers.append(error)
    return layers
