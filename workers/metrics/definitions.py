"""The worker fleet's metrics. Built once per worker process, after ``FleetRun.join`` (multiprocess mode).

None is registered in a registry: the exposition process reads every worker's values from the run's
directory (``MultiProcessCollector``) and serves their sum.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from workers.contract import ACTOR_KWARGS, COMMANDS_QUEUE, QUERIES, QUERIES_QUEUE, queue_of
from workers.metrics.worker import UNKNOWN_ACTOR

MESSAGE_LABELS = ("queue", "actor")
COMMAND_OUTCOMES = ("applied", "duplicate", "refused", "invalid", "retrying", "dead_lettered")
QUERY_OUTCOMES = ("answered", "refused", "expired", "invalid", "retrying", "dead_lettered")
GROUP_COMMIT_WAYS = ("alone", "together", "failed")
LISTING = "listing"  # the ``cache`` label of the listing cache's lookups
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class WorkerMetrics:
    def __init__(self) -> None:
        self.processed = Counter(
            "docfleet_messages_processed",
            "Deliveries a worker processed (each attempt of a retried message counts), by queue and actor.",
            MESSAGE_LABELS,
            registry=None,
        )
        self.failed = Counter(
            "docfleet_messages_failed",
            "Attempts that ended in an error (invalid, not found, fault), by queue and actor.",
            MESSAGE_LABELS,
            registry=None,
        )
        self.retried = Counter(
            "docfleet_messages_retried",
            "Failed attempts that were scheduled to be tried again, by queue and actor.",
            MESSAGE_LABELS,
            registry=None,
        )
        self.dead_lettered = Counter(
            "docfleet_messages_dead_lettered",
            "Messages moved to the dead-letter queue (<queue>.XQ), by queue and actor.",
            MESSAGE_LABELS,
            registry=None,
        )
        self.outcomes = Counter(
            "docfleet_message_outcomes",
            "Outcomes of messages (applied, duplicate, refused, answered, expired, invalid, retrying,"
            " dead_lettered).",
            ("actor", "outcome"),
            registry=None,
        )
        self.duration = Histogram(
            "docfleet_message_duration_seconds",
            "Time a worker spent processing a message, by queue and actor.",
            MESSAGE_LABELS,
            buckets=DURATION_BUCKETS,
            registry=None,
        )
        self.in_progress = Gauge(
            "docfleet_messages_in_progress",
            "Messages being processed right now, by queue and actor.",
            MESSAGE_LABELS,
            multiprocess_mode="livesum",
            registry=None,
        )
        self._define_cache_and_process_metrics()

    def _define_cache_and_process_metrics(self) -> None:
        self.cache_lookups = Counter(
            "docfleet_cache_lookups",
            "Cache lookups by cache and result (hit or miss; a degraded lookup is a miss too).",
            ("cache", "result"),
            registry=None,
        )
        self.cache_degraded = Counter(
            "docfleet_cache_degraded_calls",
            "Cache calls answered by their fallback because Valkey was unavailable (or cooling down).",
            registry=None,
        )
        self.group_commits = Histogram(
            "docfleet_group_commit_commands",
            "Commands per transaction of group commit, by how it ran (alone, together, failed).",
            ("how",),
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=None,
        )
        self.turns_waiting = Gauge(
            "docfleet_redelivered_waiting_for_turn",
            "Messages delivered again that wait for their turn: they run one at a time per process.",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.turns_overtaken = Counter(
            "docfleet_redelivered_turns_overtaken",
            "Turns of messages delivered again that stayed busy so long that the next ran beside them.",
            registry=None,
        )
        self.processes = Gauge(
            "docfleet_worker_processes",
            "Worker processes running (each live process counts 1).",
            multiprocess_mode="livesum",
            registry=None,
        )
        self.processes.set(1)
        self._start_at_zero()

    def _start_at_zero(self) -> None:
        """Every label set an alert may wait for is served at 0 from the start. A series born at its
        first count has no earlier sample, and ``rate()`` and ``increase()`` read it as no increase:
        the first dead letter of a fleet run would fire nothing."""
        for actor in ACTOR_KWARGS:
            labels = (queue_of(actor), actor)
            for counter in (self.processed, self.failed, self.retried, self.dead_lettered):
                counter.labels(*labels)
            for outcome in QUERY_OUTCOMES if actor in QUERIES else COMMAND_OUTCOMES:
                self.outcomes.labels(actor, outcome)
        for queue in (COMMANDS_QUEUE, QUERIES_QUEUE):
            self.dead_lettered.labels(queue, UNKNOWN_ACTOR)
        self.outcomes.labels(UNKNOWN_ACTOR, "invalid")
        for how in GROUP_COMMIT_WAYS:
            self.group_commits.labels(how)
        for result in ("hit", "miss"):
            self.cache_lookups.labels(LISTING, result)
