"""A worker process's boot objects, frozen out of Python's full collections before it consumes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from workers.middleware import FreezeBootObjects


class Node:
    """A tracked object that can sit in a reference cycle and be watched through a weak reference."""

    partner: Any = None


@pytest.fixture
def unfrozen_afterwards() -> Iterator[None]:
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("unfrozen_afterwards")
def test_what_boot_built_is_frozen_and_its_garbage_collected_first() -> None:
    kept = Node()
    dropped = Node()
    dropped.partner = dropped  # a cycle: only a collection frees it
    gone = weakref.ref(dropped)
    del dropped

    FreezeBootObjects().before_worker_boot(None, None)  # type: ignore[arg-type]  # neither is read

    assert gone() is None
    assert not any(tracked is kept for tracked in gc.get_objects())  # in no generation: frozen
