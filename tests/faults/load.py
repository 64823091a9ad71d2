"""Load in the background while a fault is injected: uploads at a steady rate, shares mixed in.

A document is shared only once its upload is in Postgres, so that no share waits on its upload for longer
than its not-found retries last, whatever the fault delays.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

from tests.faults.ledger_queries import existing_documents
from tests.faults.producer import Producer
from tests.faults.workload import Command, Workload

BATCH = 50
SHARE_EVERY = 10  # one document in ten is shared with the reader


class Load(threading.Thread):
    def __init__(
        self, producer: Producer, workload: Workload, database_url: str, *, uploads: int, rate: float
    ) -> None:
        super().__init__(name="faults-load", daemon=True)
        self._producer, self._workload, self._database_url = producer, workload, database_url
        self._uploads, self._rate = uploads, rate
        self._to_share: list[str] = []
        self.sent = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            started = time.monotonic()
            for first in range(0, self._uploads, BATCH):
                batch = [self._workload.upload(i) for i in range(first, min(first + BATCH, self._uploads))]
                self._to_share += [
                    self._workload.document(i) for i in range(first, first + len(batch), SHARE_EVERY)
                ]
                self._producer.send([*batch, *self._shares()])
                self.sent = first + len(batch)
                time.sleep(max(0.0, started + self.sent / self._rate - time.monotonic()))
            self._share_the_rest()
        except BaseException as failure:
            self.failure = failure

    def _shares(self) -> list[Command]:
        ready = existing_documents(self._database_url, self._to_share)
        self._to_share = [doc for doc in self._to_share if doc not in ready]
        return [self._workload.share(doc) for doc in sorted(ready)]

    def _share_the_rest(self) -> None:
        deadline = time.monotonic() + 120
        while self._to_share and time.monotonic() < deadline and not self._producer.cancelled.is_set():
            self._producer.send(self._shares())
            time.sleep(0.5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:  # the scenario failed: no point in sending the rest
            self._producer.cancelled.set()
        self.join(timeout=300)
        if exc is None:
            assert not self.is_alive(), "the load did not finish"
            if self.failure is not None:
                raise self.failure
