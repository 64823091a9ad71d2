"""structlog set up once per process: JSON lines off a terminal, a readable console on one.

Every line passes through ``redact_credentials`` so that a URL with a password never reaches a log.

docfleet's own lines (structlog) are rendered and written by structlog alone: a line below the level
costs one method call, and one at the level skips the standard library's record, its search for the
calling frame, its handler and the formatter's copy of the record, about half of a line's cost; a worker
writes one for every message. The lines of libraries (Dramatiq, pika) still go through the standard
library, with the same processors and the same renderer, to the same stream.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog

# user:password@ in a URL. The password runs to the last "@" before the next blank, so a password that
# contains "@" is hidden whole.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<secret>\S*)@")


def redact(text: str) -> str:
    if "://" not in text:  # every line's every value passes here: most hold no URL at all
        return text
    return _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_redacted(item) for item in value)
    return value


def redact_credentials(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: _redacted(value) for key, value in event_dict.items()}


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's line writer, with the name given to ``get_logger`` for the line's ``logger`` field."""

    def __init__(self, name: str, file: TextIO) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(str(args[0]) if args else "", self._file)


def configure_logging(level: str = "INFO", *, json_lines: bool | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json_lines is None else json_lines
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_credentials,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=_NamedWriteLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)
