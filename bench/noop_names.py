"""Names shared by the no-op actor (``bench.noop``) and the harness, which must not import the actor."""

QUEUE = "bench-noop"
ACTOR = "bench_noop"
COUNTER = "bench:noop:done"
CONSUMER_ENV = "BENCH_NOOP_CONSUMER"
"""``coalescing``: the no-op worker acks as docfleet's workers do (``workers.consumer``); else Dramatiq's."""
