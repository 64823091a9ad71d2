"""docfleet's own work per command, without Dramatiq, RabbitMQ or the relay: uploads, then shares of the
same documents, run in this process by as many threads as a worker process has, through the product's
``Application`` (group commit, the transaction, the cache invalidation). The CPU this process and
Postgres use meanwhile is what a worker's use cases cost; with the fleet's figures it bounds the ratio
to the ceiling that any worker built on Dramatiq could reach (``bench.report``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from bench.cpu import CpuUse, service_groups
from bench.load import OWNER, READER, upload_kwargs
from bench.options import Options
from bench.seed import upload_folders
from domain.commands import Command, ShareDocument, UploadDocument
from domain.roles import Role
from domain.use_cases.dispatch import Outcome
from workers.bootstrap import Application
from workers.settings import Settings

Work = tuple[str, str, Command]  # (message id, actor, command)


def measure_in_process(settings: Settings, options: Options, prefix: str) -> dict[str, float]:
    """``cpu_inprocess_{uploads,shares}_{docfleet,postgres}_ms``: CPU per command of this process and
    of Postgres, over ``options.messages`` uploads and then as many shares."""
    count, folders = options.messages, upload_folders(prefix, options.folders)
    document_ids = [f"{prefix}-ip-{index}" for index in range(count)]
    uploads: list[Work] = [
        (f"{doc_id}-up", "upload_document", _upload(doc_id, folders[index % len(folders)]))
        for index, doc_id in enumerate(document_ids)
    ]
    shares: list[Work] = [(f"{doc_id}-sh", "share_document", _share(doc_id)) for doc_id in document_ids]
    app = Application.from_settings(settings, threads=options.threads)
    try:
        figures = _drain(app, uploads, "inprocess_uploads", options.threads)
        figures |= _drain(app, shares, "inprocess_shares", options.threads)
    finally:
        app.close()
    return figures


def _upload(doc_id: str, folder_id: str) -> UploadDocument:
    return UploadDocument(**{**upload_kwargs(doc_id, folder_id), "tags": ("bench",)})


def _share(doc_id: str) -> ShareDocument:
    return ShareDocument(doc_id=doc_id, shared_by=OWNER, shared_with=READER, role=Role.VIEWER)


def _drain(app: Application, work: Sequence[Work], measure: str, threads: int) -> dict[str, float]:
    """Every command of ``work``, split between ``threads`` threads; raises unless each was applied. On
    an interruption (Ctrl-C) the threads stop after their command in hand, before the caller cleans up."""
    failures: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def run(share: Sequence[Work]) -> None:
        for message_id, actor, command in share:
            if stop.is_set():
                return
            outcome: Outcome | str
            try:
                outcome = app.execute(command, message_id=message_id, actor=actor)
            except Exception as error:  # a thread that died unseen would flatter the CPU per command
                outcome = f"{type(error).__name__}: {error}"
            if outcome is not Outcome.APPLIED:
                with lock:
                    failures.append(f"{message_id}: {outcome}")

    runners = [threading.Thread(target=run, args=(work[index::threads],)) for index in range(threads)]
    cpu = CpuUse({"docfleet": [os.getpid()], "postgres": service_groups()["postgres"]})
    _run_all(runners, stop)
    cpu.include_new({"postgres": service_groups()["postgres"]})
    cpu.stop()
    if failures:
        raise RuntimeError(f"{len(failures)} in-process commands not applied, the first: {failures[0]}")
    return cpu.per_message(measure, len(work))


def _run_all(runners: list[threading.Thread], stop: threading.Event) -> None:
    """Starts every runner and waits for them; an interruption tells them to stop, then waits."""
    try:
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
    except BaseException:
        stop.set()
        for runner in runners:
            if runner.is_alive():
                runner.join()
        raise
