"""A process's state as Linux's ``/proc`` gives it, for the supervisor's looks at what it runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")
GONE = ("Z", "X")  # exited (a zombie until reaped), or dead
"""The states of a process that has exited."""


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` from the state (0) on: the state, the parent (1), the process
    group (2), ..., the start time in clock ticks since boot (19). They come after the command's name,
    which may itself hold spaces and parentheses. None once the process is gone, or without /proc."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def state(pid: int) -> str:
    """The process's state letter (``R``, ``S``, ``Z``...); "" once it is gone."""
    fields = stat_fields(pid)
    return fields[0] if fields else ""


def every_stat() -> Iterator[tuple[int, list[str]]]:
    """Each process's pid with its ``stat_fields``; those gone while read are left out."""
    for entry in os.listdir(PROC):
        if entry.isdigit() and (fields := stat_fields(int(entry))):
            yield int(entry), fields
