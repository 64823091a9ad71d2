"""The tally of a worker process's messages: every note written once, by label set, outcomes last."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.support.waiting import wait_for
from tests.workers.metric_samples import sample
from workers.metrics import tally as tally_module
from workers.metrics.definitions import WorkerMetrics
from workers.metrics.tally import DeadLettered, Finished, MessageTally, Started

UPLOADS = ("documents", "upload_document")


def _applied(labels: tuple[str, str] = UPLOADS, *, duration: float | None = 0.003) -> Finished:
    return Finished(labels, "applied", duration, failed=False, retried=False)


def _processed(metrics: WorkerMetrics, labels: tuple[str, str] = UPLOADS) -> float:
    return sample(metrics.processed, "_total", queue=labels[0], actor=labels[1])


def test_notes_are_written_when_the_tally_writes_each_once() -> None:
    metrics = WorkerMetrics()
    tally = MessageTally(metrics)
    tally.note(Started(UPLOADS))
    tally.note(_applied())
    assert _processed(metrics) == 0
    tally.write()
    tally.write()
    assert _processed(metrics) == 1
    assert sample(metrics.duration, "_count", queue="documents", actor="upload_document") == 1
    assert sample(metrics.duration, "_sum", queue="documents", actor="upload_document") == 0.003
    assert sample(metrics.outcomes, "_total", actor="upload_document", outcome="applied") == 1
    assert sample(metrics.in_progress, "", queue="documents", actor="upload_document") == 0


def test_every_kind_of_note_counts_under_its_labels() -> None:
    metrics, shares = WorkerMetrics(), ("documents", "share_document")
    tally = MessageTally(metrics)
    tally.note(Started(shares))
    tally.note(Finished(shares, "retrying", 0.01, failed=True, retried=True))
    tally.note(Started(shares))  # still running
    tally.note(Finished(shares, "dead_lettered", None, failed=True, retried=False))  # its start not seen
    tally.note(DeadLettered(shares))
    tally.note(DeadLettered(("documents", "unknown"), ("unknown", "invalid")))
    tally.write()
    tally.write()  # nothing twice
    share = {"queue": "documents", "actor": "share_document"}
    assert _processed(metrics, shares) == 2
    assert sample(metrics.failed, "_total", **share) == 2
    assert sample(metrics.retried, "_total", **share) == 1
    assert sample(metrics.dead_lettered, "_total", **share) == 1
    assert sample(metrics.dead_lettered, "_total", queue="documents", actor="unknown") == 1
    assert sample(metrics.outcomes, "_total", actor="unknown", outcome="invalid") == 1
    assert sample(metrics.outcomes, "_total", actor="share_document", outcome="dead_lettered") == 1
    assert sample(metrics.duration, "_count", **share) == 1
    assert sample(metrics.in_progress, "", **share) == 1


def test_notes_from_many_threads_are_all_written_by_the_tally_s_thread() -> None:
    metrics = WorkerMetrics()
    tally = MessageTally(metrics, interval=0.001)
    tally.start()

    def work() -> None:
        for _ in range(2_000):
            tally.note(Started(UPLOADS))
            tally.note(_applied())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: _processed(metrics) == 16_000, 10, "every note written by the tally's thread")
    tally.stop()
    assert sample(metrics.in_progress, "", queue="documents", actor="upload_document") == 0
    assert sample(metrics.outcomes, "_total", actor="upload_document", outcome="applied") == 16_000


def test_stopping_writes_the_last_notes() -> None:
    metrics = WorkerMetrics()
    tally = MessageTally(metrics, interval=3600)
    tally.start()
    tally.note(_applied())
    tally.stop()
    assert _processed(metrics) == 1


class _Recorded:
    """A metric that records the name of each write in ``order``."""

    def __init__(self, name: str, order: list[str]) -> None:
        self._name, self._order = name, order

    def labels(self, *labels: str) -> Any:
        record = lambda *_: self._order.append(self._name)  # noqa: E731
        return SimpleNamespace(inc=record, observe=record)


def test_the_outcomes_are_written_after_every_other_count() -> None:
    order: list[str] = []
    names = ("processed", "failed", "retried", "dead_lettered", "outcomes", "duration", "in_progress")
    tally = MessageTally(SimpleNamespace(**{n: _Recorded(n, order) for n in names}))  # type: ignore[arg-type]
    tally.note(Finished(UPLOADS, "retrying", 0.2, failed=True, retried=True))
    tally.note(Started(UPLOADS))
    tally.note(Started(UPLOADS))  # one still running: a change of in_progress to write
    tally.note(DeadLettered(("documents", "unknown"), ("unknown", "invalid")))
    tally.write()
    assert order[-2:] == ["outcomes", "outcomes"]
    assert set(order[:-2]) == set(names) - {"outcomes"}


class _FailingOnce:
    def __init__(self, inner: Any) -> None:
        self._inner, self._failed = inner, False

    def labels(self, *labels: str) -> Any:
        if not self._failed:
            self._failed = True
            raise OSError("no space left on device")
        return self._inner.labels(*labels)


@pytest.mark.parametrize("failing", ["processed", "duration", "in_progress", "outcomes"])
def test_a_write_that_fails_is_logged_and_what_it_did_not_write_is_written_next_time(failing: str) -> None:
    metrics = WorkerMetrics()
    broken = SimpleNamespace(**{**vars(metrics), failing: _FailingOnce(getattr(metrics, failing))})
    tally = MessageTally(broken, interval=0.01)  # type: ignore[arg-type]
    with capture_logs() as logs:
        tally.start()
        tally.note(Started(UPLOADS))
        tally.note(_applied())
        wait_for(lambda: logs, 10, "the failed write logged")
        tally.note(Started(UPLOADS))
        tally.note(_applied())
        applied = ("_total", {"actor": "upload_document", "outcome": "applied"})
        wait_for(lambda: sample(metrics.outcomes, applied[0], **applied[1]) == 2, 10, "both attempts written")
        tally.stop()
    assert logs[0]["event"] == "metrics not written"
    assert logs[0]["log_level"] == "error"
    assert _processed(metrics) == 2
    assert sample(metrics.duration, "_count", queue="documents", actor="upload_document") == 2
    assert sample(metrics.in_progress, "", queue="documents", actor="upload_document") == 0


def test_a_series_in_progress_is_served_at_zero_once_seen() -> None:
    metrics = WorkerMetrics()
    tally = MessageTally(metrics)
    tally.note(Started(UPLOADS))
    tally.note(_applied())
    tally.write()
    [family] = metrics.in_progress.collect()
    assert [(s.labels, s.value) for s in family.samples] == [
        ({"queue": "documents", "actor": "upload_document"}, 0.0)
    ]


def test_once_stopped_each_note_is_written_as_it_is_taken() -> None:
    metrics = WorkerMetrics()
    tally = MessageTally(metrics, interval=3600)
    tally.start()
    writer = tally._writer
    tally.start()  # a second start starts no second writer
    assert tally._writer is writer
    tally.stop()
    tally.note(_applied())  # a message that outlived the worker's shutdown
    assert _processed(metrics) == 1


class _Hung:
    def __init__(self) -> None:
        self.release = threading.Event()

    def labels(self, *labels: str) -> Any:
        self.release.wait(10)
        raise OSError("gave up")


def test_a_writer_hung_in_a_write_lets_the_stop_return_and_later_notes_only_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tally_module, "STOP_TIMEOUT_S", 0.05)
    hung = _Hung()
    tally = MessageTally(SimpleNamespace(in_progress=hung), interval=0.001)  # type: ignore[arg-type]
    with capture_logs() as logs:
        tally.start()
        tally.note(Started(UPLOADS))
        wait_for(lambda: not tally._notes, 10, "the writer to take the note")
        tally.stop()
        tally.note(Started(UPLOADS))  # returns at once: the lock stays with the hung writer
        assert len(tally._notes) == 1
        hung.release.set()
        assert tally._writer is not None
        tally._writer.join(10)
    assert [line["event"] for line in logs] == ["metrics writer did not stop", "metrics not written"]
