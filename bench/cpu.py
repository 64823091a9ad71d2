"""Where the CPU goes during a measurement: each part of the fleet and each service, per message, from
the user and system time ``/proc`` keeps for every process (clock ticks, 10 ms each on Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import argv, descendants, program, stat_field

Groups = dict[str, list[int]]
_UTIME, _STIME = 11, 12  # fields of /proc/<pid>/stat counted from the state


def fleet_groups(fleet_pid: int, worker_pids: list[int]) -> Groups:
    """The worker processes, the relay (not its supervisor), and every process of Postgres, RabbitMQ
    and the Valkey-protocol server on the machine (their background work counts too)."""
    relay = [pid for pid in descendants(fleet_pid) if _is_relay(pid)]
    return {"workers": worker_pids, "relay": relay, **service_groups()}


def service_groups() -> Groups:
    """Every process of Postgres, RabbitMQ and the Valkey-protocol server running now."""
    services: Groups = {"postgres": [], "rabbitmq": [], "valkey": []}
    for pid in (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()):
        name = _service_of(pid)
        if name is not None:
            services[name].append(pid)
    return services


class CpuUse:
    def __init__(self, groups: Groups) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._start = {pid: _ticks(pid) for pids in groups.values() for pid in pids}
        self._end: dict[int, int] = {}

    def reading(self) -> dict[int, int]:
        """The clock ticks of every process counted so far, now."""
        return {pid: _ticks(pid) for pid in self._start}

    def stop(self, reading: dict[int, int] | None = None) -> None:
        """Ends the measurement now, or at an earlier ``reading``."""
        self._end = self.reading() if reading is None else reading

    def include_new(self, groups: Groups) -> None:
        """Counts processes of ``groups`` started since (a pool's new connections) from their start:
        all their CPU time was used meanwhile. Call before ``stop``."""
        for name, pids in groups.items():
            new = [pid for pid in pids if pid not in self._start]
            self._groups[name] = [*self._groups.get(name, []), *new]
            self._start |= dict.fromkeys(new, 0)

    def per_message(self, measure: str, messages: float) -> dict[str, float]:
        """``cpu_<measure>_<group>_ms``: CPU milliseconds per message; a process gone by the end, or
        started after it, is left out (its time is not in the end's reading)."""
        tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
        figures: dict[str, float] = {}
        for name, pids in self._groups.items():
            ticks = sum(self._end[pid] - self._start[pid] for pid in pids if self._end.get(pid))
            figures[f"cpu_{measure}_{name}_ms"] = ticks * tick_ms / messages if messages else float("nan")
        return figures


class CpuWindow:
    """The CPU used while a completion count goes from 10 % to 90 % of ``total``, the window the rates
    are taken over; fed the count by the harness's polling, with the count of any other work the same
    processes do (``others``). If that other work advances before 90 %, the window closes at the last
    poll before it did: its CPU would otherwise be charged to these messages."""

    def __init__(self, groups: Groups, total: int) -> None:
        self._groups, self._start_at, self._stop_at = groups, total // 10, total * 9 // 10
        self._use: CpuUse | None = None
        self._first: int | None = None  # the count when the window opened
        self._others = 0  # and the other work's
        self._last: tuple[int, dict[int, int]] | None = None  # the count and reading of the last clean poll
        self._closed = False

    def observe(self, count: int, others: int = 0) -> None:
        if self._use is None:
            if count >= self._start_at:
                self._use, self._first, self._others = CpuUse(self._groups), count, others
            return
        if self._closed:
            return
        if others != self._others:
            self._closed = True
            return
        self._use.include_new(service_groups())  # the services' processes started meanwhile
        self._last = (count, self._use.reading())
        self._closed = count >= self._stop_at

    def per_message(self, measure: str) -> dict[str, float]:
        """As ``CpuUse.per_message``; NaN for every group if no clean poll followed the window's opening
        (a run so short that one poll saw both ends, or other work under way from the start)."""
        if self._use is None or self._first is None or self._last is None or self._last[0] == self._first:
            return {f"cpu_{measure}_{name}_ms": float("nan") for name in self._groups}
        count, reading = self._last
        self._use.stop(reading)
        return self._use.per_message(measure, count - self._first) | {
            f"cpu_{measure}_window_messages": float(count - self._first)
        }


@contextmanager
def cpu_use(groups: Groups) -> Iterator[CpuUse]:
    use = CpuUse(groups)
    try:
        yield use
    finally:
        use.stop()


def _ticks(pid: int) -> int:
    return stat_field(pid, _UTIME) + stat_field(pid, _STIME)


def _is_relay(pid: int) -> bool:
    args = program(pid)
    return len(args) == 2 and Path(args[0]).name == "docfleet" and args[1] == "relay"


def _service_of(pid: int) -> str | None:
    """By the program's name: Postgres retitles its processes "postgres: ...", Redis "redis-server
    host:port"; RabbitMQ runs in Erlang's ``beam.smp``."""
    args = argv(pid)
    words = args[0].split() if args else []
    name = Path(words[0]).name if words else ""
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("beam"):
        return "rabbitmq"
    if name in ("redis-server", "valkey-server"):
        return "valkey"
    return None
