"""A structlog logger of one name, built once for each configuration rather than for each line."""

from __future__ import annotations

from typing import Any

import structlog


class NamedLogger:
    """Call it for the logger named ``name`` under structlog's configuration of the moment.

    ``structlog.get_logger`` returns a proxy that builds the logger at its first use: 2.6 µs, for each of
    a worker's outcome lines, one a message. A proxy kept for good would keep the configuration of its
    first line, and write to the old place after a later ``structlog.configure`` (a process's logging
    set up at its boot, the tests' ``capture_logs``). This one is built again whenever the configuration
    changed. Safe from any thread: two threads may both build one, and either serves.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._built: tuple[tuple[Any, ...], Any] | None = None

    def __call__(self) -> Any:
        configuration = tuple(structlog.get_config().values())
        built = self._built
        if built is None or not _same(built[0], configuration):
            built = self._built = (configuration, structlog.get_logger(self._name).bind())
        return built[1]


def _same(these: tuple[Any, ...], those: tuple[Any, ...]) -> bool:
    return len(these) == len(those) and all(this is that for this, that in zip(these, those, strict=True))
