"""The benchmark's bound: the ratio to the ceiling if a worker cost a no-op plus its use cases."""

from __future__ import annotations

import pytest

from bench.report import ratio_at_best

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
