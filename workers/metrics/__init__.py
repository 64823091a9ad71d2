"""Prometheus metrics of the worker fleet, the relay and the audit consumer (docs/metrics.md).

Nothing here starts a server or creates a metric when imported: each process builds its metrics and
starts its HTTP exposition from its own entry point, when ``METRICS_ENABLED`` is on. The worker fleet's
metrics live in prometheus_client's multiprocess mode, one directory per fleet run
(``workers.metrics.fleet_run``), and one process of the fleet serves the sum over all of its workers.
Neither the domain nor the adapters import prometheus_client: cache lookups are counted by decorators the
composition root puts around the adapters (``workers.metrics.cache``).
"""
