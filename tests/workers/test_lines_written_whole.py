"""A worker's short lines: one write each, straight to the file descriptor, never cut into by another
thread's; a line too long for one atomic write goes the relayed way."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import sys
import threading
import time
from pathlib import Path

import pytest
import structlog

from workers.logging import ShortLinesDirect, configure_logging

THREADS, LINES_EACH = 16, 400


pytestmark = pytest.mark.usefixtures("restore_logging")


def test_a_short_line_is_written_to_the_descriptor_and_a_long_one_is_left(tmp_path: Path) -> None:
    with (tmp_path / "direct.log").open("w") as direct:
        stream = ShortLinesDirect(direct, io.StringIO())
        short, wide = "x" * 80 + "\n", "é" * (select.PIPE_BUF // 2 + 1) + "\n"

        assert stream.write_whole(short)
        assert not stream.write_whole(wide)  # within PIPE_BUF characters, past it in bytes

    assert (tmp_path / "direct.log").read_text() == short


def test_a_stream_without_a_descriptor_writes_nothing_past_it() -> None:
    direct = io.StringIO()
    assert not ShortLinesDirect(direct, io.StringIO()).write_whole("x\n")
    assert direct.getvalue() == ""


def test_lines_of_many_threads_through_a_pipe_each_arrive_whole() -> None:
    reading, writing = os.pipe()
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(_read_all(reading)))
    reader.start()
    with os.fdopen(writing, "w") as direct:
        configure_logging("INFO", json_lines=True, own_lines_to=ShortLinesDirect(direct, io.StringIO()))
        _log_from_threads(padding="p" * 300)  # lines of about 400 bytes: many to a pipe's buffer
    reader.join(timeout=30)

    lines = received[0].decode().splitlines()
    assert len(lines) == THREADS * LINES_EACH
    numbers = sorted((record["thread"], record["line"]) for record in map(json.loads, lines))
    assert numbers == [(thread, line) for thread in range(THREADS) for line in range(LINES_EACH)]


def _log_from_threads(padding: str) -> None:
    log = structlog.get_logger("docfleet.worker")

    def write(thread: int) -> None:
        for line in range(LINES_EACH):
            log.info("applied", thread=thread, line=line, padding=padding)

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


class OneWriterAtATime(io.StringIO):
    """Dramatiq's pipe to the parent process is not safe for two threads at once: this stream notes
    any write that starts while another is under way (each write lingers, to widen the window)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = 0
        self.overlaps = 0

    def write(self, text: str) -> int:
        self.writing += 1
        if self.writing > 1:
            self.overlaps += 1
        time.sleep(0.0005)
        written = super().write(text)
        self.writing -= 1
        return written


def test_long_lines_and_the_libraries_lines_take_turns_on_the_relayed_stream(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    relayed = OneWriterAtATime()
    monkeypatch.setattr(sys, "stderr", relayed)  # where the libraries' handler writes, as in a worker
    with (tmp_path / "direct.log").open("w") as direct:
        configure_logging("INFO", json_lines=True, own_lines_to=ShortLinesDirect(direct, relayed))

        def write_long_lines() -> None:
            for _ in range(200):
                structlog.get_logger("docfleet").info("x" * select.PIPE_BUF)

        def write_library_lines() -> None:
            for _ in range(200):
                logging.getLogger("dramatiq").warning("y")

        long_lines = threading.Thread(target=write_long_lines)
        library_lines = threading.Thread(target=write_library_lines)
        for thread in (long_lines, library_lines):
            thread.start()
        for thread in (long_lines, library_lines):
            thread.join()

    assert relayed.getvalue().count("x" * select.PIPE_BUF) == 200
    assert relayed.getvalue().count('"event":"y"') == 200
    assert relayed.overlaps == 0
