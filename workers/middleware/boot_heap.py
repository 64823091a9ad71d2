"""Keeps what a worker process built at boot out of Python's full collections."""

from __future__ import annotations

import gc

import dramatiq
from dramatiq.middleware import Middleware


class FreezeBootObjects(Middleware):
    """Once the worker has booted: one collection, then every object then alive (the modules, the
    Application with its pools and plans: about 100,000 of them) moves to the cyclic collector's
    permanent generation.

    A full collection walks every object the collector tracks, holding the interpreter lock: with the
    boot's objects, 40 to 110 ms here, during which none of the process's threads runs. Frozen, they are
    walked no more. A frozen object is still freed when its last reference goes; only a reference cycle
    among frozen objects would never be.
    """

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        gc.collect()
        gc.freeze()
