"""Measurement 4: a folder of 1,000 documents listed from the cache and from the database, in-process."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.load import OWNER
from bench.stats import median
from domain.commands import ListFolderDocuments
from workers.bootstrap import Application


def measure_listing(
    app: Application, valkey_only: Application, folder_id: str, size: int, repeats: int
) -> dict[str, float]:
    """Median milliseconds of ``Application.list_folder`` for the whole folder: after invalidating the
    folder's cached listing (the database path), and with the listing cached (warm), as the product is
    configured (in memory in front of Valkey). ``valkey_only`` keeps nothing in memory: it gives the
    figure of a process that has not read this version of the folder yet."""
    query = ListFolderDocuments(folder_id=folder_id, requested_by=OWNER, limit=size)

    def listed(by: Application) -> Callable[[], None]:
        def list_once() -> None:
            page = by.list_folder(query)
            if len(page.documents) != size:
                raise RuntimeError(f"listed {len(page.documents)} documents of {size}")

        return list_once

    database = _timed(listed(app), repeats, before=lambda: app.listing_cache.invalidate({folder_id}))
    listed(app)()  # warms both tiers
    cached = _timed(listed(app), repeats)
    from_valkey = _timed(listed(valkey_only), repeats)
    return {
        "listing_database_ms": database,
        "listing_cache_ms": cached,
        "listing_valkey_ms": from_valkey,
        "listing_speedup": database / cached if cached > 0 else float("nan"),
        "listing_valkey_speedup": database / from_valkey if from_valkey > 0 else float("nan"),
    }


def _timed(call: Callable[[], None], repeats: int, before: Callable[[], None] | None = None) -> float:
    times: list[float] = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)
