"""Loaded into the worker (``docfleet worker tests.faults.hooks.crash_on_message``): while the
trigger file ``crash-on-message`` exists, the worker process that starts the message whose id it holds
announces it in ``crashed.<pid>`` and dies at once, as a native crash or the kernel's OOM killer would
end it: nothing settles the message, and RabbitMQ delivers it again."""

from __future__ import annotations

import os
import signal

import dramatiq
from dramatiq.middleware import Middleware

from tests.faults.hooks.files import announce, hooks_dir
from tests.faults.hooks.names import CRASH_ON_MESSAGE, CRASHED


class CrashOnMessage(Middleware):
    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        directory = hooks_dir()
        if directory is None:
            return
        try:
            poison = (directory / CRASH_ON_MESSAGE).read_text().strip()
        except FileNotFoundError:
            return
        if message.message_id == poison:
            announce(CRASHED, message.message_id)
            os.kill(os.getpid(), signal.SIGKILL)


dramatiq.get_broker().add_middleware(CrashOnMessage())
