"""The fleet's processes, found through /proc: honcho's descendants, Dramatiq's main process, the relay."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.support.processes import program, running


def is_relay(pid: int) -> bool:
    """The relay itself (``docfleet relay`` or a test wrapper), not the supervisor that runs it."""
    found = program(pid)
    if not found or "supervise" in found:
        return False
    return found[-1] == "relay" or "tests.faults.hooks.relay_pause" in found


def kill(pid: int) -> None:
    """SIGKILL, then waits until the process is gone (or a zombie its parent has yet to reap)."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and running(pid):
        time.sleep(0.02)


def local_tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets ``pid`` holds open (its Postgres connections among them)."""
    links = [_link(fd) for fd in _entries(Path(f"/proc/{pid}/fd"))]
    inodes = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            columns = line.split()
            if columns[9] in inodes:
                ports.add(int(columns[1].rsplit(":", 1)[1], 16))
    return ports


def _entries(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed in the meantime
        return ""
