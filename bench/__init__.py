"""The docfleet benchmark harness: ``python -m bench`` (see ``bench.options`` for its options).

One invocation creates its own database, RabbitMQ vhost and Valkey key prefix, measures the Dramatiq
no-op ceiling and docfleet's throughput, latency, listing and memory figures with the same fleet shape,
prints a table against the targets of the benchmark issue and writes the raw figures as JSON.
"""
