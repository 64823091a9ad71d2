"""The per-process resources: one ``Application`` per worker process, lent to each message's actor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from workers.bootstrap import Application

OpenApplication = Callable[[int], Application]
"""Builds the Application for a worker of that many threads."""

CheckReady = Callable[[], None]
"""Returns if the worker may take messages; else ends the process (``workers.schema_gate``)."""

_lent: ContextVar[Application | None] = ContextVar("docfleet_application", default=None)


class Resources(Middleware):
    """Opens the Application when the worker boots and closes it once the worker has stopped.

    ``before_worker_boot``: Dramatiq starts the consumer and worker threads before ``after_worker_boot``,
    so a message could otherwise be handled, or an unreadable one rejected, before the Application exists.
    ``check_ready``, if given, runs there first, once per process: a worker against a database without
    the schema ends before it consumes (a ``SystemExit`` passes Dramatiq's hooks, an exception would be
    logged and the boot carried on).

    ``after_worker_shutdown`` rather than ``before``: Dramatiq lets the messages in progress finish between
    the two, and they still need their connections. The Application itself is safe to share between the
    worker's threads; the lock only guards opening, closing and reading the reference.
    """

    def __init__(self, open_application: OpenApplication, *, check_ready: CheckReady | None = None) -> None:
        self._open = open_application
        self._check_ready = check_ready
        self._lock = threading.Lock()
        self._application: Application | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        with self._lock:
            if self._application is None:
                if self._check_ready is not None:
                    self._check_ready()
                self._application = self._open(worker.worker_threads)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        with self._lock:
            application, self._application = self._application, None
        if application is not None:
            application.close()

    def application(self) -> Application:
        with self._lock:
            application = self._application
        if application is None:
            raise RuntimeError("the worker has not booted: no Application is open")
        return application

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        with self._lock:
            _lent.set(self._application)

    def after_process_message(self, broker: dramatiq.Broker, message: Any, **_: Any) -> None:
        _lent.set(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        _lent.set(None)


def current_application() -> Application:
    """The Application of the worker running the current message; for actors only."""
    application = _lent.get()
    if application is None:
        raise RuntimeError("no Application: actors run inside a booted docfleet worker")
    return application
