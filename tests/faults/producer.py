"""A producer as the contract asks for one: publisher confirms, and whatever was not confirmed is sent
again with the same message id, until it is. Every message id it saw confirmed goes into the ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from tests.faults.workload import Command
from workers.client import DocfleetClient, NotSent

RETRY_EVERY_S = 0.5
GIVE_UP_AFTER_S = 180.0


class Producer:
    """``copies`` > 1 publishes every message that many times, the same message id each time."""

    def __init__(self, amqp_url: str, *, copies: int = 1) -> None:
        self._client = DocfleetClient(amqp_url, confirm_timeout=10.0, name="faults-producer")
        self._copies = copies
        self._lock = threading.Lock()
        self.confirmed: dict[str, Command] = {}
        self.resends = 0
        self.cancelled = threading.Event()

    def send(self, commands: Sequence[Command]) -> None:
        """Returns once RabbitMQ confirmed every command; raises if it did not within the limit."""
        pending = {command.message_id: command for command in commands}
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        while pending:
            assert time.monotonic() < deadline, f"{len(pending)} commands never confirmed"
            assert not self.cancelled.is_set(), "the producer was cancelled"
            messages = [command.message for command in pending.values()] * self._copies
            try:
                refused = {undelivered.message_id for undelivered in self._client.send_prepared(messages)}
            except NotSent:
                refused = set(pending)
            with self._lock:
                self.confirmed |= {mid: command for mid, command in pending.items() if mid not in refused}
                self.resends += len(refused)
            pending = {mid: command for mid, command in pending.items() if mid in refused}
            if pending:
                time.sleep(RETRY_EVERY_S)

    def confirmed_commands(self) -> list[Command]:
        with self._lock:
            return list(self.confirmed.values())

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
