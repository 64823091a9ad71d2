"""Keeps what a worker process built at boot out of Python's full collections."""

from __future__ import annotations

import gc

import dramatiq
from dramatiq.middleware import Middleware


class FreezeBootObjects(Middleware):
    """Once the Application is open (``Resources``, listed before this), and before Dramatiq starts
    consuming: one collection, then every object then alive (the modules, the Application with its pools
    and plans: about 100,000 of them) moves to the cyclic collector's permanent generation.

    A full collection walks every object the collector tracks, holding the interpreter lock: with the
    boot's objects, 43 to 114 ms here, during which none of the process's threads runs. Frozen, they are
    walked no more. A frozen object is still freed when its last reference goes; only a reference cycle
    among frozen objects would never be.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Not once the worker has booted: there the collection put back, by up to 0.12 s, the moment the
        process tells Dramatiq's main process it is up, while its consumers were already taking messages.
        A message that kills its process during that hand-shake leaves Dramatiq's main process waiting
        for ever (docs/reliability.md); fault scenario 10 hung so, once in a full run of the suite."""
        gc.collect()
        gc.freeze()
