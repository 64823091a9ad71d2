"""``make bench`` keeps working: a tiny run of the harness yields every figure, finite, in its JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "ceiling_per_s",
    "ceiling_coalescing_acks_per_s",
    "upload_per_s",
    "share_per_s",
    "upload_commands_per_transaction",
    "share_commands_per_transaction",
    "cpu_noop_coalescing_workers_ms",
    "cpu_inprocess_uploads_docfleet_ms",
    "cpu_inprocess_uploads_postgres_ms",
    "cpu_inprocess_shares_docfleet_ms",
    "cpu_inprocess_shares_postgres_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_send_late_p99_ms",
    "listing_database_ms",
    "listing_cache_ms",
    "listing_valkey_ms",
    "rss_boot_kib",
    "rss_start_kib",
    "rss_end_kib",
)
TINY = ["--runs", "1", "--messages", "300", "--memory-messages", "700", "--folders", "4"]
TINY += ["--latency-rate", "50", "--latency-seconds", "1"]


def test_a_tiny_benchmark_run_measures_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", *TINY, "--json", str(results), "--workdir", str(tmp_path)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run = json.loads(results.read_text())["runs"][0]
    missing = [name for name in FIGURES if run.get(name) is None or not math.isfinite(run[name])]
    assert not missing, f"no finite figure for {missing}: {run}"
    assert run["latency_received"] == run["latency_sent"] > 0
    assert "upload / ceiling" in finished.stdout
    assert "upload / ceiling with the worker at best" in finished.stdout


def test_the_large_folder_measurement_pages_each_requester() -> None:
    sizes = ["--documents", "5200", "--others", "2000", "--repeats", "1"]
    command = [sys.executable, "-m", "bench.large_folder", *sizes]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.splitlines()
    assert [line.split(":")[0].strip() for line in lines] == ["bench-owner", "bench-reader", "bench-no-role"]
    assert all("first page" in line and "from 9/10 down" in line for line in lines)
