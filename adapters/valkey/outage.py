"""What the log says about an unavailable Valkey: a few lines per outage, never one per call.

The first failure logs a warning; while Valkey stays unavailable, at most one line per
``report_every_seconds`` says how many calls degraded since the previous line; the first success after
an announced outage logs an info line. A cache that flaps is announced at most once per interval: an
outage that starts and ends between two lines is only counted, in the next line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

DEFAULT_REPORT_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class LogLine:
    level: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)

    def emit(self) -> None:
        # Looked up per line (lines are rare) so the logging set-up in force at that moment applies.
        logger = structlog.get_logger(__name__)
        getattr(logger, self.level)(self.event, **self.fields)


class Outage:
    """The reporting state of one guard; not thread-safe on its own, the guard calls it under its lock."""

    def __init__(self, report_every_seconds: float = DEFAULT_REPORT_EVERY_SECONDS) -> None:
        self._every = report_every_seconds
        self._down = False
        self._announced = False
        self._degraded_calls = 0
        self._lost_invalidations = 0
        self._last_error = ""
        self._reported_at: float | None = None

    def failed(self, now: float, error: Exception) -> LogLine | None:
        self._last_error = repr(error)
        if not self._down:
            self._down = True
            self._announced = False
        return self._degraded(now)

    def skipped(self, now: float) -> LogLine | None:
        return self._degraded(now)

    def recovered(self, now: float) -> LogLine | None:
        announced = self._down and self._announced
        self._down = False
        self._announced = False
        return self._line(now, "info", "valkey_cache_recovered") if announced else None

    def lost(self, invalidations: int) -> None:
        self._lost_invalidations += invalidations

    def _degraded(self, now: float) -> LogLine | None:
        self._degraded_calls += 1
        if self._reported_at is not None and now - self._reported_at < self._every:
            return None
        event = "valkey_cache_still_unavailable" if self._announced else "valkey_cache_unavailable"
        self._announced = True
        return self._line(now, "warning", event, error=self._last_error)

    def _line(self, now: float, level: str, event: str, **fields: Any) -> LogLine:
        line = LogLine(
            level,
            event,
            {
                "degraded_calls": self._degraded_calls,
                "invalidations_lost": self._lost_invalidations,
                **fields,
            },
        )
        self._degraded_calls = 0
        self._lost_invalidations = 0
        self._reported_at = now
        return line
