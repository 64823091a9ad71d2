"""The benchmark's bound: the ratio to the ceiling if a worker cost a no-op plus its use cases."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from bench.options import Options
from bench.report import ROWS, ratio_at_best, render, row_medians, show

NOOP = {"cpu_noop_workers_ms": 0.38, "cpu_noop_rabbitmq_ms": 0.10, "cpu_noop_valkey_ms": 0.02}
NOOP |= {"cpu_noop_relay_ms": 0.0, "cpu_noop_postgres_ms": 0.0, "cpu_noop_coalescing_workers_ms": 0.25}
UPLOADS = {"cpu_uploads_workers_ms": 1.0, "cpu_uploads_relay_ms": 0.2, "cpu_uploads_postgres_ms": 0.4}
UPLOADS |= {"cpu_uploads_rabbitmq_ms": 0.15, "cpu_uploads_valkey_ms": 0.05}


def test_the_workers_cpu_is_replaced_by_a_noops_plus_the_use_cases_own() -> None:
    figures = NOOP | UPLOADS | {"cpu_inprocess_uploads_docfleet_ms": 0.25}
    # the ceiling's 0.50 ms per no-op over: relay, services 0.80 + worker 0.25 + 0.25
    assert ratio_at_best("uploads")(figures) == pytest.approx(0.50 / 1.30)


def test_a_cheaper_use_case_raises_the_bound() -> None:
    dearer = NOOP | UPLOADS | {"cpu_inprocess_uploads_docfleet_ms": 0.25}
    cheaper = dearer | {"cpu_inprocess_uploads_docfleet_ms": 0.05}
    assert ratio_at_best("uploads")(cheaper) > ratio_at_best("uploads")(dearer)


class _EveryFigure(dict[str, float]):
    """Any figure the table asks for, as wide as a rate on a very fast machine."""

    def __missing__(self, key: str) -> float:
        return 12_345_678.9


def test_every_measure_stays_on_one_line_however_wide_its_figures() -> None:
    options = Options(
        runs=1, quick=False, json_path=Path("bench.json"), processes=2, threads=32, prefetch=64,
        messages=10_000, memory_messages=100_000, latency_rate=200.0, latency_seconds=15.0,
        listing_size=1_000, folders=100, workdir=None, listing_repeats=20,
    )  # fmt: skip
    output = io.StringIO()

    show(render(options, row_medians([_EveryFigure()]), 1.0), Console(file=output, width=80))

    lines = output.getvalue().splitlines()
    for row in ROWS:
        assert any(row.label in line for line in lines), f"{row.label!r} was wrapped"


def test_a_ratio_is_taken_within_each_run_before_the_median() -> None:
    """Uploads of 300, 400 and 500 a second against ceilings of 1,000, 500 and 800: the runs' ratios are
    0.30, 0.80 and 0.625, whose median is 0.625; the medians' ratio would be 400 / 800 = 0.50."""
    pairs = ((300.0, 1_000.0), (400.0, 500.0), (500.0, 800.0))
    runs = [{"upload_per_s": up, "ceiling_per_s": ceiling} for up, ceiling in pairs]

    figures = row_medians(runs)

    assert figures["upload / ceiling"] == pytest.approx(0.625)
    assert figures["upload throughput"] == 400
    assert figures["no-op ceiling"] == 800


def test_the_json_holds_no_nan_nor_infinity_that_strict_readers_refuse(tmp_path: Path) -> None:
    import json
    import math

    from bench.report import write_json

    options = Options(
        runs=1, quick=True, json_path=tmp_path / "bench.json", processes=2, threads=32, prefetch=64,
        messages=1_000, memory_messages=3_000, latency_rate=200.0, latency_seconds=3.0,
        listing_size=1_000, folders=100, workdir=None, listing_repeats=20,
    )  # fmt: skip
    runs = [{"latency_p99_ms": math.inf, "cpu_uploads_workers_ms": math.nan, "upload_per_s": 10.0}]

    write_json(options.json_path, options, runs, dict.fromkeys((row.label for row in ROWS), math.nan), 1.0)

    text = options.json_path.read_text()
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert document["runs"][0] == {
        "latency_p99_ms": None,
        "cpu_uploads_workers_ms": None,
        "upload_per_s": 10.0,
    }
    assert document["table"]["upload / ceiling"] is None
