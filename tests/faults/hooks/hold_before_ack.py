"""Loaded into the worker (``docfleet worker tests.faults.hooks.hold_before_ack``): while the
trigger file ``hold-before-ack`` exists, every message that was processed is held after its actor
returned (its transaction committed) and before it is acked, and announced in ``held.<pid>``."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from tests.faults.hooks.files import announce, hold_while, triggered
from tests.faults.hooks.names import HELD, HOLD_BEFORE_ACK


class HoldBeforeAck(Middleware):
    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: Any = None,
    ) -> None:
        if exception is None and triggered(HOLD_BEFORE_ACK):
            announce(HELD, message.message_id)
            hold_while(HOLD_BEFORE_ACK)


dramatiq.get_broker().add_middleware(HoldBeforeAck())
