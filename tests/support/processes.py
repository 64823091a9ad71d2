"""Local processes and ports, read from /proc: what the fleet tests and the benchmark look for."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        text = " ".join((task / "children").read_text() for task in tasks)
    except OSError:
        return []
    return [int(child) for child in text.split()]


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def program(pid: int) -> list[str]:
    """The arguments from the program on: a Python interpreter running a script is skipped."""
    args = argv(pid)
    if args and Path(args[0]).name.startswith("python"):
        return args[1:]
    return args


def runs_dramatiq(pid: int) -> bool:
    """Dramatiq itself, main or worker process: not a shell or a supervisor that starts it."""
    found = program(pid)
    return bool(found) and Path(found[0]).name == "dramatiq"


def is_dramatiq_main(pid: int) -> bool:
    """Dramatiq's main process (its worker processes are forked from it, with the same command line)."""
    return runs_dramatiq(pid) and program(pid) != program(parent(pid))


def parent(pid: int) -> int:
    return stat_field(pid, 1)


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` from the state (0) on, after the command name, which may
    itself hold spaces and parentheses; none once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()


def stat_field(pid: int, index: int) -> int:
    """A numeric field of ``/proc/<pid>/stat`` counted from the state (0); 0 once the process is gone."""
    fields = stat_fields(pid)
    return int(fields[index]) if fields else 0


def running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has, whoever is yet to reap it)."""
    fields = stat_fields(pid)
    return bool(fields) and fields[0] != "Z"
