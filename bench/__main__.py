"""``python -m bench``: every measurement, ``--runs`` times, on throwaway resources; a table and JSON."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from bench.ceiling import measure_ceilings
from bench.fleet import latency_recipients, measure_fleet
from bench.inprocess import measure_in_process
from bench.listing import measure_listing
from bench.options import Options, parse_args
from bench.report import render, row_medians, show, write_json
from bench.resources import (
    discard_unpublished_events,
    forget_earlier_runs,
    settle_database,
    throwaway_settings,
)
from bench.seed import fill_listing_folder, prepare_run
from workers.bootstrap import Application
from workers.settings import Settings


def one_run(settings: Settings, options: Options, workdir: Path, run: int) -> dict[str, float]:
    prefix = f"r{run}"
    print(f"run {run + 1}/{options.runs}: ceiling", file=sys.stderr, flush=True)
    figures = measure_ceilings(settings, options, workdir, run)
    app = Application.from_settings(settings, threads=1)
    valkey_only = Application.from_settings(replace(settings, listing_memory_documents=0), threads=1)
    try:
        prepare_run(app, prefix, latency_recipients(options, prefix), options.folders)
        discard_unpublished_events(settings.database_url)  # the fleet's relay starts on an empty outbox
        forget_earlier_runs(settings.database_url, prefix)
        settle_database(settings.database_url)
        print(f"run {run + 1}/{options.runs}: fleet", file=sys.stderr, flush=True)
        figures |= measure_fleet(settings, options, workdir, prefix)
        settle_database(settings.database_url)
        print(f"run {run + 1}/{options.runs}: in process", file=sys.stderr, flush=True)
        figures |= measure_in_process(settings, options, prefix)
        print(f"run {run + 1}/{options.runs}: listing", file=sys.stderr, flush=True)
        folder = fill_listing_folder(app, prefix, options.listing_size)
        settle_database(settings.database_url)
        figures |= measure_listing(app, valkey_only, folder, options.listing_size, options.listing_repeats)
    finally:
        app.close()
        valkey_only.close()
    return figures


@contextmanager
def _workdir(options: Options) -> Iterator[Path]:
    if options.workdir is not None:
        options.workdir.mkdir(parents=True, exist_ok=True)
        yield options.workdir
        return
    with tempfile.TemporaryDirectory(prefix="docfleet-bench-") as workdir:
        yield Path(workdir)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up as Ctrl-C does
    started = time.monotonic()
    runs: list[dict[str, float]] = []
    try:
        with _workdir(options) as workdir, throwaway_settings(Settings.from_env()) as settings:
            for run in range(options.runs):
                runs.append(one_run(settings, options, workdir, run))
    except KeyboardInterrupt:
        print("interrupted: throwaway resources removed", file=sys.stderr)
        return 130
    wall = time.monotonic() - started
    table = row_medians(runs)
    show(render(options, table, wall))
    write_json(options.json_path, options, runs, table, wall)
    print(f"raw figures written to {options.json_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
