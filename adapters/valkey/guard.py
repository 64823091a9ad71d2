"""The one place where an unavailable Valkey turns into a cache miss instead of a failed use case.

A ``CacheGuard`` wraps every call the listing cache makes to one Valkey client. When a call fails it returns
the caller's fallback, skips Valkey for a short cool-down (one caller per cool-down probes again, so a
down cache costs at most one timeout per cool-down and process), and reports through ``Outage`` without
flooding the log. Keys whose invalidation failed are kept and deleted before any later call reaches
Valkey, so a cached value that should be gone is never read back after the cache recovers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import TypeVar

import valkey
from valkey.exceptions import ValkeyError

from adapters.valkey.outage import Outage

T = TypeVar("T")

UNAVAILABLE: tuple[type[Exception], ...] = (ValkeyError, OSError)
DEFAULT_COOLDOWN_SECONDS = 1.0
DEFAULT_MAX_PENDING = 10_000


class CacheGuard:
    def __init__(
        self,
        client: valkey.Valkey,
        *,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        outage: Outage | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._cooldown = cooldown_seconds
        self._outage = outage if outage is not None else Outage()
        self._max_pending = max_pending
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at: float | None = None
        # Key -> the stamp of its latest failed invalidation; a flush drops a key only if no newer
        # invalidation of it failed meanwhile. Bounded: past ``max_pending`` keys, an invalidation is
        # lost and counted in the log. Listings survive a lost invalidation anyway, as a listing is only
        # served for the folder's current version.
        self._pending: dict[str, int] = {}
        self._stamp = 0

    def run(self, operation: Callable[[valkey.Valkey], T], fallback: T) -> T:
        """``operation(client)``, or ``fallback`` if Valkey is cooling down or the call fails."""
        if not self._admit():
            return fallback
        try:
            self._flush_pending()
            result = operation(self.client)
        except UNAVAILABLE as error:
            self._failed(error)
            return fallback
        self._succeeded()
        return result

    def unlink(self, keys: Collection[str]) -> None:
        """Deletes the keys in one call; if Valkey is unavailable, remembers them for the next success."""
        if keys and not self.run(lambda client: _unlink(client, keys), fallback=False):
            self._remember(keys)

    @property
    def pending(self) -> frozenset[str]:
        """Keys whose invalidation is still owed to Valkey."""
        with self._lock:
            return frozenset(self._pending)

    def _admit(self) -> bool:
        now = self._clock()
        with self._lock:
            if self._retry_at is None:
                return True
            if now >= self._retry_at:
                self._retry_at = now + self._cooldown  # this caller probes; the others keep skipping
                return True
            line = self._outage.skipped(now)
        if line is not None:
            line.emit()
        return False

    def _failed(self, error: Exception) -> None:
        now = self._clock()
        with self._lock:
            self._retry_at = now + self._cooldown
            line = self._outage.failed(now, error)
        if line is not None:
            line.emit()

    def _succeeded(self) -> None:
        with self._lock:
            if self._retry_at is None:
                return
            self._retry_at = None
            line = self._outage.recovered(self._clock())
        if line is not None:
            line.emit()

    def _flush_pending(self) -> None:
        with self._lock:
            owed = dict(self._pending)
        if owed:
            _unlink(self.client, owed.keys())
            with self._lock:
                for key, stamp in owed.items():
                    if self._pending.get(key) == stamp:
                        del self._pending[key]

    def _remember(self, keys: Collection[str]) -> None:
        with self._lock:
            self._stamp += 1
            lost = 0
            for key in keys:
                if key in self._pending or len(self._pending) < self._max_pending:
                    self._pending[key] = self._stamp
                else:
                    lost += 1
            self._outage.lost(lost)


def guard_for(client: valkey.Valkey, guard: CacheGuard | None) -> CacheGuard:
    """``guard`` if it wraps ``client``, or a guard of the cache's own when none is shared."""
    if guard is None:
        return CacheGuard(client)
    if guard.client is not client:
        raise ValueError("a shared guard must wrap the client the cache uses")
    return guard


def _unlink(client: valkey.Valkey, keys: Collection[str]) -> bool:
    client.unlink(*keys)
    return True
