"""While Postgres cannot be reached, a worker process takes up no new message: messages wait in the
process, unacked, instead of spending their retries on an outage and being dead-lettered after them.

The first message that fails for want of a connection to Postgres closes the gate (its own failure takes
its retries' usual course); one thread then asks Postgres, at growing intervals, until it answers, and
opens the gate. A message waits at most ``wait_max_s`` and then runs (and fails into its retries): a
delivery left unacked for long is closed by RabbitMQ itself (its ``consumer_timeout``, 30 min by
default), and a stop opens the gate at once, so that the worker drains.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import psycopg
import structlog
from dramatiq.middleware import Middleware

from workers.backoff import Backoff
from workers.middleware.resources import Resources

OUTAGE_WAIT_MAX_S = 300.0
PROBE_FIRST_S, PROBE_MAX_S = 0.5, 5.0


def is_outage(exception: BaseException) -> bool:
    """A connection to Postgres that could not be made or was lost; not a statement Postgres cancelled
    (a lock waited on past the statement timeout), which is one message's trouble."""
    error = getattr(exception, "orig", None) or exception  # SQLAlchemy wraps the driver's error
    return isinstance(error, psycopg.OperationalError) and not isinstance(error, psycopg.errors.QueryCanceled)


class PostgresOutage(Middleware):
    def __init__(
        self,
        resources: Resources,
        *,
        wait_max_s: float = OUTAGE_WAIT_MAX_S,
        probe_first_s: float = PROBE_FIRST_S,
        probe_max_s: float = PROBE_MAX_S,
    ) -> None:
        self._resources = resources
        self._wait_max_s = wait_max_s
        self._probe_first_s, self._probe_max_s = probe_first_s, probe_max_s
        self._open = threading.Event()
        self._open.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._probing = False

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        if not self._open.is_set():
            self._open.wait(self._wait_max_s)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None and is_outage(exception):
            self._close(exception)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stopping.set()
        self._open.set()

    def _close(self, cause: BaseException) -> None:
        with self._lock:
            if self._probing or self._stopping.is_set():
                return
            self._probing = True
            self._open.clear()
        _log().warning(
            "postgres unreachable: new messages wait until it answers",
            error=repr(cause)[:300],
            wait_max_s=self._wait_max_s,
        )
        threading.Thread(target=self._probe_until_it_answers, name="postgres-outage", daemon=True).start()

    def _probe_until_it_answers(self) -> None:
        backoff = Backoff(self._probe_first_s, self._probe_max_s)
        tries = 0
        while not self._stopping.wait(backoff.next_delay()):
            tries += 1
            try:
                self._resources.application().ping_postgres()
            except Exception:  # still away: ask again later
                continue
            _log().info("postgres answers again: messages run", probes=tries)
            break
        with self._lock:
            self._probing = False
            self._open.set()


def _log() -> Any:
    return structlog.get_logger("docfleet.worker")
