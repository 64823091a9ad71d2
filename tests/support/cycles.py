"""What a piece of code leaves to Python's cyclic collector: objects freed only by a collection, not
as soon as the last reference to them goes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

DOCFLEET_PACKAGES = ("domain", "adapters", "workers")


@contextmanager
def left_to_the_collector() -> Iterator[list[str]]:
    """Fills the list, once the block ends, with the docfleet classes of the objects it left in
    reference cycles (each class once, sorted). The collector is off for the block, so that nothing
    is freed by a collection running meanwhile."""
    found: list[str] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        classes = {type(garbage) for garbage in gc.garbage}
        found.extend(sorted(f"{kind.__module__}.{kind.__qualname__}" for kind in classes if _ours(kind)))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _ours(kind: type) -> bool:
    return kind.__module__.partition(".")[0] in DOCFLEET_PACKAGES
