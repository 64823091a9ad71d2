"""The figures against the issue's targets: a rich table on the terminal, the raw figures as JSON."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from bench.options import Options
from bench.stats import median
from workers.json_lines import finite

Figures = Mapping[str, float]


class Row(NamedTuple):
    label: str
    value: Callable[[Figures], float]
    unit: str
    target: str
    met: Callable[[float], bool] | None


def _ratio(name: str) -> Callable[[Figures], float]:
    return lambda f: f[name] / f["ceiling_per_s"] if f["ceiling_per_s"] else math.nan


PARTS = ("workers", "relay", "postgres", "rabbitmq", "valkey")


def _cpu_all(measure: str) -> Callable[[Figures], float]:
    """The machine's CPU per message during ``measure``: the fleet's processes and the services'."""
    return lambda f: sum(f.get(f"cpu_{measure}_{part}_ms", math.nan) for part in PARTS)


def ratio_at_best(measure: str) -> Callable[[Figures], float]:
    """The ratio to the ceiling the machine's CPU would allow if each worker process cost no more than a
    no-op's (acking as the fleet does) plus the use cases' own work, measured in process; the relay and
    the services as measured in the fleet. On a saturated machine a rate goes as one over the CPU per
    message, so this is the ceiling's CPU per no-op over that sum."""

    def ratio(f: Figures) -> float:
        around_workers = _cpu_all(measure)(f) - f[f"cpu_{measure}_workers_ms"]
        worker = f["cpu_noop_coalescing_workers_ms"] + f[f"cpu_inprocess_{measure}_docfleet_ms"]
        return _cpu_all("noop")(f) / (around_workers + worker)

    return ratio


def _command_rows(noun: str, plural: str, target: float) -> tuple[Row, ...]:
    """Throughput, its ratio to the ceiling against ``target``, and where its CPU goes: the rows of
    uploads, or of shares."""

    def figure(name: str) -> Callable[[Figures], float]:
        return lambda f: f[name]

    return (
        Row(f"{noun} throughput", figure(f"{noun}_per_s"), "msg/s", "", None),
        Row(f"{noun} / ceiling", _ratio(f"{noun}_per_s"), "x", f"≥ {target:.2f}", lambda v: v >= target),
        Row(f"  CPU per {noun}: workers", figure(f"cpu_{plural}_workers_ms"), "ms", "", None),
        Row(f"  CPU per {noun}: all", _cpu_all(plural), "ms", "", None),
        Row(f"  {plural} per transaction", figure(f"{noun}_commands_per_transaction"), "", "", None),
        Row(
            f"  in process: CPU per {noun}, docfleet",
            figure(f"cpu_inprocess_{plural}_docfleet_ms"),
            "ms",
            "",
            None,
        ),
        Row(
            f"  in process: CPU per {noun}, Postgres",
            figure(f"cpu_inprocess_{plural}_postgres_ms"),
            "ms",
            "",
            None,
        ),
        Row(f"  {noun} / ceiling with the worker at best", ratio_at_best(plural), "x", "", None),
    )


def _growth(since: str) -> Callable[[Figures], float]:
    return lambda f: 100.0 * (f["rss_end_kib"] / f[since] - 1) if f[since] else math.nan


ROWS = (
    Row("no-op ceiling", lambda f: f["ceiling_per_s"], "msg/s", "", None),
    Row("  no-op acking as the fleet does", lambda f: f["ceiling_coalescing_acks_per_s"], "msg/s", "", None),
    Row("  CPU per no-op: Dramatiq workers", lambda f: f["cpu_noop_workers_ms"], "ms", "", None),
    Row("  CPU per no-op: all", _cpu_all("noop"), "ms", "", None),
    Row(
        "  CPU per no-op acking as the fleet does: workers",
        lambda f: f["cpu_noop_coalescing_workers_ms"],
        "ms",
        "",
        None,
    ),
    *_command_rows("upload", "uploads", 0.60),
    *_command_rows("share", "shares", 0.50),
    Row("share → event p50", lambda f: f["latency_p50_ms"], "ms", "≤ 10", lambda v: v <= 10),
    Row("share → event p95", lambda f: f["latency_p95_ms"], "ms", "", None),
    Row("share → event p99", lambda f: f["latency_p99_ms"], "ms", "≤ 50", lambda v: v <= 50),
    Row("  events never received", lambda f: f["latency_sent"] - f["latency_received"], "events", "", None),
    Row("  sends running late, p99", lambda f: f["latency_send_late_p99_ms"], "ms", "", None),
    Row("  p50 sent → handled", lambda f: f["latency_to_handled_p50_ms"], "ms", "", None),
    Row("  p50 handled → received", lambda f: f["latency_handled_to_arrival_p50_ms"], "ms", "", None),
    Row("  CPU per share at 200/s: workers", lambda f: f["cpu_latency_workers_ms"], "ms", "", None),
    Row("  CPU per share at 200/s: relay", lambda f: f["cpu_latency_relay_ms"], "ms", "", None),
    Row("  CPU per share at 200/s: Postgres", lambda f: f["cpu_latency_postgres_ms"], "ms", "", None),
    Row("  CPU per share at 200/s: RabbitMQ", lambda f: f["cpu_latency_rabbitmq_ms"], "ms", "", None),
    Row("  CPU per share at 200/s: Valkey", lambda f: f["cpu_latency_valkey_ms"], "ms", "", None),
    Row("listing 1,000 from database", lambda f: f["listing_database_ms"], "ms", "", None),
    Row("listing 1,000 from cache", lambda f: f["listing_cache_ms"], "ms", "", None),
    Row("cache speed-up", lambda f: f["listing_speedup"], "x", "≥ 5", lambda v: v >= 5),
    Row("  of which from Valkey alone", lambda f: f["listing_valkey_ms"], "ms", "", None),
    Row("  Valkey alone speed-up", lambda f: f["listing_valkey_speedup"], "x", "", None),
    Row("worker RSS at start (sum)", lambda f: f["rss_start_kib"] / 1024, "MiB", "", None),
    Row("worker RSS at end (sum)", lambda f: f["rss_end_kib"] / 1024, "MiB", "", None),
    Row("worker memory growth", _growth("rss_start_kib"), "%", "≤ 10", lambda v: v <= 10),
    Row("  worker RSS as the fleet came up (sum)", lambda f: f["rss_boot_kib"] / 1024, "MiB", "", None),
    Row("  worker memory growth since it came up", _growth("rss_boot_kib"), "%", "", None),
)


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: median([run[key] for run in runs if key in run]) for key in runs[0]}


def row_medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each row's figure: the median of its value in each run. A ratio is taken within its run, to the
    ceiling measured on that run's stretch of the machine, before the median: the ceiling moves from run
    to run, and a ratio of two medians may pair a run's uploads with another run's ceiling."""
    return {row.label: median([_value(row, run) for run in runs]) for row in ROWS}


def _value(row: Row, figures: Figures) -> float:
    try:
        return row.value(figures)
    except (KeyError, ZeroDivisionError):  # a figure this run could not measure
        return math.nan


def render(options: Options, figures: Mapping[str, float], wall_s: float) -> Table:
    """``figures``: each row's, by label (``row_medians``)."""
    shape = f"{options.processes} processes x {options.threads} threads, prefetch {options.prefetch}"
    title = f"docfleet benchmark: median of {options.runs} run(s), {shape}, {wall_s:.0f} s"
    table = Table(title=title)
    for column in ("measure", "value", "unit", "target", "met"):
        table.add_column(column, justify="right" if column == "value" else "left", no_wrap=True)
    for row in ROWS:
        value = figures[row.label]
        met = "" if row.met is None else ("[green]yes[/]" if row.met(value) else "[red]no[/]")
        table.add_row(row.label, f"{value:,.2f}", row.unit, row.target, met)
    return table


def targets(figures: Mapping[str, float]) -> dict[str, bool]:
    return {row.label: row.met(figures[row.label]) for row in ROWS if row.met is not None}


def write_json(
    path: Path, options: Options, runs: list[dict[str, float]], table: Mapping[str, float], wall_s: float
) -> None:
    """Every run's raw figures, their medians one by one, and the table's figures (``row_medians``)."""
    document: dict[str, Any] = {
        "options": asdict(options),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "system": platform.platform()},
        "wall_seconds": wall_s,
        "runs": runs,
        "median": medians(runs),
        "table": dict(table),
        "targets_met": targets(table),
    }
    path.write_text(json.dumps(finite(document), indent=2, default=str, allow_nan=False) + "\n")


def show(table: Table, console: Console | None = None) -> None:
    """The table, its rows never wrapped: wider than the terminal (or than 80 columns off a terminal)
    when its labels and figures need it, so that each measure stays one line to read or grep."""
    console = console or Console()
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    console.width = max(console.width, natural)
    console.print(table)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
