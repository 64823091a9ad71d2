"""structlog set up once per process: JSON lines off a terminal, a readable console on one.

Every line passes through ``redact_credentials`` so that a URL with a password never reaches a log.

docfleet's own lines are rendered by structlog and written by ``LineWriter``: a line below the level
costs one method call, and one at the level skips the standard library's record, its search for the
calling frame, its handler and the formatter's copy of the record, about half of a line's cost; a worker
writes one for every message. The lines of libraries (Dramatiq, pika) still go through the standard
library, with the same processors and the same renderer, to the same stream.
"""

from __future__ import annotations

import logging
import os
import re
import select
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TextIO

import structlog

from workers.json_lines import json_line
from workers.library_levels import quiet_libraries

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


_quieted = threading.local()


@contextmanager
def library_lines_quieted() -> Iterator[None]:
    """While it lasts, the libraries' lines logged from this thread are dropped: for work they would
    report as failing though its failure is expected (closing a connection RabbitMQ already dropped)."""
    before = getattr(_quieted, "active", False)
    try:
        _quieted.active = True
        yield
    finally:
        _quieted.active = before


class _UnlessQuieted(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quieted, "active", False)


class ShortLinesDirect:
    """A Dramatiq worker process's stream for docfleet's lines: those short enough for one atomic write
    go straight to the stream the process was started with, the others through Dramatiq's pipe.

    Dramatiq runs its worker processes' output through a pipe to the parent process, which writes every
    line again: 3 to 4 % of the machine at full load, for a line per message. A write of at most
    ``PIPE_BUF`` bytes to a pipe is never interleaved with another process's, and a write to a file
    shares the file's offset with the other processes, so such a line needs no relay. A longer one (a
    traceback) still goes through the parent, which writes each with one ``write``: whole, unless the
    pipe the fleet's output goes to is full, when a short line may land inside it
    (docs/performance-history.md).
    """

    def __init__(self, direct: TextIO, relayed: TextIO) -> None:
        self._direct, self._relayed = direct, relayed
        self._fd = _file_descriptor(direct)
        self._encoding = getattr(direct, "encoding", None) or "utf-8"

    def write_whole(self, line: str) -> bool:
        """Writes ``line`` with a ``write`` of its own, if it is short enough to be written whole, and
        says whether it did. No buffer and no lock: a worker's seventeen threads each write their line
        at once instead of queueing on a lock held across the system call (about 0.05 ms of a worker's
        CPU per message under load)."""
        data = self._one_write(line)
        if self._fd is None or data is None:
            return False
        while data:  # a pipe takes such a line whole; a file only stops short when it cannot go on
            data = data[os.write(self._fd, data) :]
        return True

    def write(self, text: str) -> int:
        if self._one_write(text) is not None:
            return self._direct.write(text)
        return self._relayed.write(text)

    def _one_write(self, text: str) -> bytes | None:
        """``text`` as the stream writes it, if that is short enough to be written whole."""
        data = text.encode(self._encoding, "backslashreplace")
        return data if len(data) <= select.PIPE_BUF else None

    def flush(self) -> None:
        self._direct.flush()


def _file_descriptor(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


class LineWriter:
    """Writes each rendered line whole, and names its logger for the line's ``logger`` field.

    A line ``ShortLinesDirect`` can write whole takes no lock. Any other is written under the lock of
    the libraries' handler (``configure_logging``), shared by every writer of the stream. That lock is
    reentrant: a signal handler that logs (the worker's stop handlers do) while its own thread is in the
    middle of a line must not wait on a lock that thread holds, as it would with structlog's own
    WriteLogger and its plain lock: a worker hung that way on a third SIGTERM.
    """

    def __init__(
        self, name: str, stream: TextIO | ShortLinesDirect, lock: AbstractContextManager[Any]
    ) -> None:
        self.name, self._stream, self._lock = name, stream, lock

    def msg(self, message: str) -> None:
        line = message + "\n"
        try:
            if isinstance(self._stream, ShortLinesDirect) and self._stream.write_whole(line):
                return
            with self._lock:
                self._stream.write(line)
                self._stream.flush()
        except (RuntimeError, OSError, ValueError):
            # As the standard library's handlers do, a line that cannot be written is dropped rather
            # than raised into the work that logged it: a handler's line written while its thread was
            # inside the stream's own write ("reentrant call"), a closed stream, a broken pipe.
            pass

    log = debug = info = warn = warning = fatal = failure = err = error = critical = exception = msg


class _LineWriterFactory:
    def __init__(self, stream: TextIO | ShortLinesDirect, lock: AbstractContextManager[Any]) -> None:
        self._stream, self._lock = stream, lock

    def __call__(self, *args: Any) -> LineWriter:
        return LineWriter(str(args[0]) if args else "", self._stream, self._lock)


def worker_lines_stream() -> TextIO | ShortLinesDirect:
    """In a Dramatiq worker process, ``ShortLinesDirect``; unless ``--log-file`` sends the output to a
    file of Dramatiq's, or nothing replaced ``sys.stderr``."""
    started_with = sys.__stderr__
    if started_with is None or sys.stderr is started_with or "--log-file" in sys.argv:
        return sys.stderr
    return ShortLinesDirect(started_with, sys.stderr)


def configure_logging(
    level: str = "INFO",
    *,
    json_lines: bool | None = None,
    own_lines_to: TextIO | ShortLinesDirect | None = None,
) -> None:
    """``own_lines_to``: where docfleet's own lines go, ``sys.stderr`` unless given."""
    as_json = (not sys.stderr.isatty()) if json_lines is None else json_lines
    shared = _shared_processors()
    renderer: Any = (
        structlog.processors.JSONRenderer(json_line)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=True)
    )
    handler = logging.StreamHandler(sys.stderr)
    # docfleet's lines that are not written directly go to the same stream as the libraries' lines (in
    # a worker process, Dramatiq's pipe to its parent, which a frame written half by each would corrupt
    # for good): both kinds take the handler's lock, itself reentrant.
    lock = handler.lock or threading.RLock()  # Handler.__init__ has made it: an RLock
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=_LineWriterFactory(own_lines_to or sys.stderr, lock),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    _send_library_lines_to(handler, level, shared, renderer)
    quiet_libraries()


def _shared_processors() -> list[Any]:
    """The processors of every line, docfleet's and the libraries', before the renderer."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_credentials,
    ]


def _send_library_lines_to(handler: logging.Handler, level: str, shared: list[Any], renderer: Any) -> None:
    """Makes ``handler``, rendering as docfleet's lines are, the root logger's only one."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler.setFormatter(formatter)
    handler.addFilter(_UnlessQuieted())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
