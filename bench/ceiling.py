"""Measurement 1: the framework ceiling, a no-op actor drained by a Dramatiq worker of the same shape."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import valkey

from bench.cpu import CpuWindow, fleet_groups
from bench.load import publish_noops
from bench.noop_names import CONSUMER_ENV, COUNTER, QUEUE
from bench.options import Options
from bench.procs import BIN, environment, started, tail, wait_for_consumers
from bench.stats import Sample, steady_rate
from tests.support.processes import children
from workers.settings import Settings

POLL_S = 0.01
MIN_MESSAGES = 20_000  # a few seconds of no-ops at least, so that the 10-90 % window spans many samples


def measure_ceilings(settings: Settings, options: Options, workdir: Path, run: int) -> dict[str, float]:
    """The ceiling of the targets, Dramatiq's own consumer (``ceiling_per_s``), then for comparison the
    same no-op acking as docfleet's workers do (``ceiling_coalescing_acks_per_s``)."""
    figures = measure_ceiling(settings, options, workdir, run)
    coalescing = measure_ceiling(settings, options, workdir, run, consumer="coalescing")
    figures["ceiling_coalescing_acks_per_s"] = coalescing.pop("ceiling_per_s")
    return figures | {key: value for key, value in coalescing.items() if key.startswith("cpu_")}


def measure_ceiling(
    settings: Settings, options: Options, workdir: Path, run: int, consumer: str = "dramatiq"
) -> dict[str, float]:
    """Pre-loads ``options.messages`` no-ops (at least ``MIN_MESSAGES``), starts the worker, samples the
    completion counter. The CPU per no-op is ``cpu_noop_*`` for Dramatiq's consumer, else
    ``cpu_noop_<consumer>_*``."""
    total = max(options.messages, MIN_MESSAGES)
    client = valkey.Valkey.from_url(settings.valkey_url)
    counter = f"{settings.cache_prefix}{COUNTER}"
    client.delete(counter)
    publish_noops(settings.amqp_url, total)
    command = [str(BIN / "dramatiq"), "bench.noop", "--processes", str(options.processes)]
    command += ["--threads", str(options.threads)]
    env = environment(settings, options.processes, options.threads, options.prefetch)
    env[CONSUMER_ENV] = consumer
    log = workdir / f"noop-{consumer}-{run}.log"
    with started(command, env, log) as process:
        wait_for_consumers(process, settings.amqp_url, QUEUE, log)
        window = CpuWindow(fleet_groups(process.pid, children(process.pid)), total)
        samples = _sample(client, counter, total, log, window.observe)
    client.close()  # type: ignore[no-untyped-call]
    rate = steady_rate(samples, total)
    measure = "noop" if consumer == "dramatiq" else f"noop_{consumer}"
    return {"ceiling_per_s": rate, "ceiling_messages": float(total)} | window.per_message(measure)


def _sample(
    client: valkey.Valkey, counter: str, total: int, log: Path, observe: Callable[[int], None]
) -> list[Sample]:
    started_at = time.monotonic()
    samples: list[Sample] = []
    while not samples or samples[-1][1] < total:
        if time.monotonic() - started_at > 60 + total / 50:
            raise RuntimeError(f"the no-op worker did not finish:\n{tail(log)}")
        samples.append((time.monotonic(), int(client.get(counter) or 0)))  # type: ignore[arg-type]
        observe(samples[-1][1])
        time.sleep(POLL_S)
    return samples
