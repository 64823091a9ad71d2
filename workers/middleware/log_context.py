"""Logging context: every line logged while a message is handled names the message, its actor and ids."""

from __future__ import annotations

import dramatiq
import structlog
from dramatiq.middleware import Middleware

from workers.contract import ids_in
from workers.logging import configure_logging, worker_lines_stream


class LogContext(Middleware):
    """Binds structlog context variables (per thread) from the message, and clears them once it is done.

    Only well-formed ids are bound, so a hostile value never reaches a log line.
    """

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            actor=message.actor_name,
            attempt=message.options.get("retries", 0) + 1,
            **ids_in(message.kwargs),
        )

    def after_ack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()


class ProcessLogging(Middleware):
    """Sets up structlog in each worker process once Dramatiq has booted it (the CLI sets its own first)."""

    def __init__(self, level: str) -> None:
        self.level = level

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure_logging(self.level, own_lines_to=worker_lines_stream())
