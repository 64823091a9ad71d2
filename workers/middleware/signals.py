"""Makes a worker process's stop signal idempotent.

Process supervisors such as honcho signal the whole process group, so each Dramatiq worker process gets
SIGTERM twice: once from the supervisor and once forwarded by Dramatiq's parent. Dramatiq treats a second
SIGTERM as "kill now", which would abandon the messages in progress instead of letting them finish.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Middleware

_log = structlog.get_logger("docfleet.worker")


class GracefulStop(Middleware):
    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        dramatiq_handler = signal.getsignal(signal.SIGTERM)
        if not callable(dramatiq_handler):
            return
        stopping = False

        def stop_once(signum: int, frame: FrameType | None) -> Any:
            nonlocal stopping
            if stopping:
                _log.info("worker_already_stopping", signal=signal.Signals(signum).name)
                return None
            stopping = True
            return dramatiq_handler(signum, frame)

        signal.signal(signal.SIGTERM, stop_once)
