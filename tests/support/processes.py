"""Local processes and ports, read from /proc: what the fleet tests and the benchmark look for."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
from pathlib import Path

from workers.cli.procfs import GONE, stat_fields, state

_LOWEST_PORT = 20_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A TCP port nobody uses right now, on 127.0.0.1."""
    return free_ports(1)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive TCP ports nobody uses right now, on 127.0.0.1.

    They are taken below the range the kernel hands out as the source ports of outgoing connections:
    there, any connection opened before the port is bound (to Postgres, say) could take it first.
    """
    highest = _first_ephemeral_port() - count
    for _ in range(200):
        base = random.randint(_LOWEST_PORT, highest)
        if all(_bindable(base + offset) for offset in range(count)):
            return base
    raise AssertionError(f"no {count} consecutive free ports between {_LOWEST_PORT} and {highest}")


def _first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
    """Dramatiq itself, main or worker process (``dramatiq``, or ``docfleet worker``, which runs it): not
    a shell or a supervisor that starts it."""
    found = program(pid)
    if not found:
        return False
    name = Path(found[0]).name
    return name == "dramatiq" or (name == "docfleet" and found[1:2] == ["worker"])


def is_dramatiq_main(pid: int) -> bool:
    """Dramatiq's main process (its worker processes are forked from it, with the same command line)."""
    return runs_dramatiq(pid) and program(pid) != program(parent(pid))


def parent(pid: int) -> int:
    return stat_field(pid, 1)


def stat_field(pid: int, index: int) -> int:
    """A numeric field of ``/proc/<pid>/stat`` counted from the state (0); 0 once the process is gone."""
    fields = stat_fields(pid)
    return int(fields[index]) if fields else 0


def dead_pid() -> int:
    """The pid of a process that has ended (until the kernel hands it out again)."""
    process = subprocess.Popen(["true"])
    process.wait(10)
    return process.pid


def running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has, whoever is yet to reap it)."""
    return state(pid) not in ("", *GONE)


def valkey_server_or_skip() -> str:
    """The program that runs a Valkey-protocol server of a test's own; without one the test is skipped,
    as it cannot run where the services are containers only."""
    import pytest  # this module serves the benchmark too, which runs without pytest

    program = shutil.which("valkey-server") or shutil.which("redis-server")
    if program is None:
        pytest.skip("neither valkey-server nor redis-server is installed to run a server of the test's own")
    return program
