"""The command line of ``python -m bench``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DESCRIPTION = "Measures docfleet against the Dramatiq no-op ceiling on throwaway resources."


@dataclass(frozen=True)
class Options:
    runs: int
    quick: bool
    json_path: Path
    processes: int
    threads: int
    prefetch: int
    messages: int  # per throughput measurement (uploads, shares, no-ops)
    memory_messages: int  # messages processed before the second memory reading
    latency_rate: float  # commands per second offered in the latency measurement
    latency_seconds: float
    listing_size: int
    folders: int  # uploads are spread round-robin over this many folders
    workdir: Path | None  # where the process logs go; a temporary directory by default
    listing_repeats: int


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    parser.add_argument("--runs", type=int, default=3, help="each figure is the median of this many runs")
    parser.add_argument("--quick", action="store_true", help="a small smoke size")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"), dest="json_path")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32, help="per process; the Procfile's default")
    parser.add_argument("--prefetch", type=int, default=0, help="per process; 0: 2 x threads")
    parser.add_argument("--messages", type=int, default=None, help="per throughput measurement")
    parser.add_argument("--memory-messages", type=int, default=None, help="default 100,000 (quick 3,000)")
    parser.add_argument("--folders", type=int, default=100, help="uploads spread over this many")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the process logs here")
    parser.add_argument("--latency-rate", type=float, default=200.0)
    parser.add_argument("--latency-seconds", type=float, default=None, help="default 15 (quick 3)")
    args = parser.parse_args(argv)
    if args.json_path.is_dir() or not args.json_path.parent.is_dir():  # told now, not after the runs
        parser.error(f"--json: {args.json_path} is not a file that can be written in an existing folder")
    return _options(args)


def _options(args: argparse.Namespace) -> Options:
    quick = bool(args.quick)
    return Options(
        runs=max(1, args.runs),
        quick=quick,
        json_path=args.json_path,
        processes=args.processes,
        threads=args.threads,
        prefetch=args.prefetch or 2 * args.threads,
        messages=args.messages or (1_000 if quick else 10_000),
        memory_messages=args.memory_messages or (3_000 if quick else 100_000),
        latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds or (3.0 if quick else 15.0),
        listing_size=1_000,
        folders=max(1, args.folders),
        workdir=args.workdir,
        listing_repeats=5 if quick else 20,
    )
