"""Makes a worker process's stop signal idempotent.

Process supervisors such as honcho signal the whole process group, so each Dramatiq worker process gets
SIGTERM twice: once from the supervisor and once forwarded by Dramatiq's parent. Dramatiq treats a second
SIGTERM as "kill now", which would abandon the messages in progress instead of letting them finish.
SIGHUP, Dramatiq's reload, stops a worker process the same way (the main process then boots new ones):
a SIGTERM during a reload's drain is a second stop signal too.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Middleware

_log = structlog.get_logger("docfleet.worker")


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class GracefulStop(Middleware):
    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        handlers = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
        stopping = False

        def stop_once(signum: int, frame: FrameType | None) -> Any:
            nonlocal stopping
            if stopping:
                _log.info("worker_already_stopping", signal=signal.Signals(signum).name)
                return None
            stopping = True
            handler = handlers[signum]
            return handler(signum, frame) if callable(handler) else None

        for signum, handler in handlers.items():
            if callable(handler):
                signal.signal(signum, stop_once)
