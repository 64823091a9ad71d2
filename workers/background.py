"""Work a worker process does on a thread of its own, for a thread that must not wait for it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import structlog

Job = Callable[[], None]


class OneThreadInBackground:
    """Runs jobs one after another, in the order given, on a daemon thread started by the first one.

    A worker's RabbitMQ consumer thread also runs its connection's I/O: the acks of every committed
    message and the heartbeats. Recording a rejection there waited on Postgres (10 s to connect to a
    host that does not answer, about 30 s for one gone silent), long enough for RabbitMQ to drop the
    connection and deliver again messages whose work had committed. Such writes are handed here.
    A stop does not wait for this thread: each consumer waits for its own jobs as it closes
    (``ScreeningConsumer.close``), and a job that never ran leaves its delivery unsettled, to come again.
    ``thread_type`` is that thread's class: a test's starts slowly, to make racing submitters visible.
    """

    def __init__(self, name: str, *, thread_type: type[threading.Thread] = threading.Thread) -> None:
        self._name = name
        self._thread_type = thread_type
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> None:
        with self._starting:
            if self._thread is None or not self._thread.is_alive():
                self._thread = self._thread_type(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except BaseException as error:  # the thread outlives any job: the jobs behind it wait on it
                structlog.get_logger("docfleet.worker").error("background job failed", error=repr(error))
