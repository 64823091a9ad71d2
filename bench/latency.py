"""Measurement 3: share → DocumentShared latency at a fixed offered load, seen on a tap on doc.events."""

from __future__ import annotations

import math
import multiprocessing
import time
from datetime import datetime
from multiprocessing.connection import Connection

from adapters.rabbitmq.subscription import EventSubscription
from bench.load import share_kwargs
from bench.stats import percentile
from workers.client import DocfleetClient, prepare
from workers.settings import Settings

Key = tuple[str, str]  # (document_id, shared_with)
Sent = tuple[float, float, float]  # one send: when it was due (monotonic), sent (wall clock), how late (s)


class Arrival:
    """An event on the tap: when it arrived (monotonic and wall clock) and when it was handled."""

    def __init__(self, payload: dict[str, object]) -> None:
        self.at, self.wall = time.monotonic(), time.time()
        self.handled = datetime.fromisoformat(str(payload["occurred_at"])).timestamp()


def measure_latency(
    settings: Settings, documents: list[str], recipients: list[str], rate: float, seconds: float
) -> dict[str, float]:
    """Shares sent one by one at ``rate`` per second for ``seconds``; each matched to its event by
    (document, recipient), the send time kept here. Latency = arrival minus the moment the share was due
    to be sent: a send that ran late (each waits for RabbitMQ's confirm of the one before) counts its
    wait, rather than hiding it (coordinated omission). How late the sends ran is reported too."""
    pairs = [(doc, user) for user in recipients for doc in documents][: int(rate * seconds)]
    # The sender is a process of its own, so that sending and receiving never wait on one GIL; both
    # read the same system-wide monotonic clock.
    spawn = multiprocessing.get_context("spawn")
    reader, writer = spawn.Pipe(duplex=False)
    with EventSubscription(settings.amqp_url, ["document.shared.*"], name="docfleet-bench-tap") as tap:
        sender = spawn.Process(target=_send_paced, args=(settings, pairs, rate, writer), daemon=True)
        sender.start()
        writer.close()  # the sender's copy is the only one left: its exit ends the pipe
        arrivals = _receive(tap, len(pairs), timeout=seconds + 60.0)
        sent = _sent_times(reader)
        sender.join()
    if sender.exitcode != 0:
        raise RuntimeError(f"the paced sender failed (exit code {sender.exitcode}): see its traceback above")
    matched = [(sent[key], arrival) for key, arrival in arrivals.items() if key in sent]
    latencies = latencies_ms(sent, matched)
    return {
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p95_ms": percentile(latencies, 0.95),
        "latency_p99_ms": percentile(latencies, 0.99),
        "latency_sent": float(len(pairs)),
        "latency_received": float(len(matched)),
        "latency_send_late_p99_ms": percentile([moments[2] * 1000 for moments in sent.values()], 0.99),
    } | _hops(matched)


def latencies_ms(sent: dict[Key, Sent], matched: list[tuple[Sent, Arrival]]) -> list[float]:
    """Each send's latency from when it was due; a send whose event never arrived counts as the latest
    of all (infinite): leaving it out would flatter the percentiles."""
    lost = len(sent) - len(matched)
    return [(arrival.at - moments[0]) * 1000 for moments, arrival in matched] + [math.inf] * lost


def _hops(matched: list[tuple[Sent, Arrival]]) -> dict[str, float]:
    """Where the latency goes, by wall clock (one machine, one clock), the median of each hop: sent to
    handled by a worker (the event's ``occurred_at``: consumed, its transaction's reads done), then
    handled to received on the tap (the commit, the relay's read, publish and confirm, RabbitMQ)."""
    to_handled = [(arrival.handled - moments[1]) * 1000 for moments, arrival in matched]
    to_arrival = [(arrival.wall - arrival.handled) * 1000 for _, arrival in matched]
    return {
        "latency_to_handled_p50_ms": percentile(to_handled, 0.50),
        "latency_handled_to_arrival_p50_ms": percentile(to_arrival, 0.50),
    }


def _send_paced(settings: Settings, pairs: list[Key], rate: float, answer: Connection) -> None:
    """In the sender's process: sends, then answers with the moment each share was sent."""
    sent: dict[Key, Sent] = {}
    try:
        _send_each(settings, pairs, rate, sent)
    finally:
        answer.send(sent)


def _sent_times(reader: Connection) -> dict[Key, Sent]:
    try:
        sent: dict[Key, Sent] = reader.recv()
    except EOFError:
        raise RuntimeError("the paced sender exited without saying when it sent each share") from None
    return sent


def _send_each(settings: Settings, pairs: list[Key], rate: float, sent: dict[Key, Sent]) -> None:
    with DocfleetClient(settings.amqp_url, name="docfleet-bench-paced") as client:
        start = time.monotonic()
        for index, (doc, user) in enumerate(pairs):
            due = start + index / rate
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            message = prepare("share_document", share_kwargs(doc, user))
            sent[(doc, user)] = (due, time.time(), max(0.0, time.monotonic() - due))
            if client.send_prepared([message]):
                raise RuntimeError(f"RabbitMQ refused the share of {doc} with {user}")


def _receive(tap: EventSubscription, count: int, timeout: float) -> dict[Key, Arrival]:
    arrivals: dict[Key, Arrival] = {}
    deadline = time.monotonic() + timeout
    while len(arrivals) < count and time.monotonic() < deadline:
        event = tap.next_event(max(0.0, deadline - time.monotonic()))
        if event is None:
            break
        body = event.payload()
        if body.get("type") == "DocumentShared":
            arrivals[(body["document_id"], body["shared_with"])] = Arrival(body)
    return arrivals
