"""What a test sees of the fleet around one message: its log, its dead letters, Postgres, Valkey."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import valkey
from sqlalchemy import Engine, func, select, text

from adapters.postgres.engine import create_engine
from adapters.postgres.tables import documents, inbox, outbox
from tests.support.waiting import wait_for
from workers.settings import Settings

DOMAIN_TABLES = ("organizations", "memberships", "folders", "documents", "access_policies")
WAIT_S = 30.0
UNREADABLE = "unreadable message dead-lettered"


class FleetLog:
    """The JSON lines the fleet wrote to its log, after honcho's ``time process |`` prefix."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size

    def lines_since(self, mark: int) -> list[dict[str, Any]]:
        """The whole lines written since ``mark``: the last one may still be being written."""
        with self.path.open("rb") as log:
            log.seek(mark)
            raw = log.read().decode("utf-8", errors="replace")
        complete = raw.split("\n")[:-1]
        lines = (line.partition(" | ")[2] for line in complete)
        return [json.loads(line) for line in lines if line.startswith("{")]

    def outcome_line(self, mark: int, message_id: str | None) -> dict[str, Any]:
        """The outcome line of the message: by its id, or the next unreadable one when it has none."""

        def found() -> dict[str, Any] | None:
            return next(
                (
                    line
                    for line in self.lines_since(mark)
                    if "outcome" in line
                    and line.get("message_id") == message_id
                    and (message_id is not None or line.get("event") == UNREADABLE)
                ),
                None,
            )

        return wait_for(found, WAIT_S, f"outcome line for message {message_id}", interval=0.02)


@dataclass(frozen=True)
class Snapshot:
    domain: dict[str, str]
    """A fingerprint of each domain table's whole content."""
    inbox_rows: int
    last_seq: int


class Database:
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, pool_size=1)

    def snapshot(self) -> Snapshot:
        with self.engine.connect() as connection:
            domain = {table: connection.scalar(text(_fingerprint(table))) or "" for table in DOMAIN_TABLES}
            rows = connection.scalar(select(func.count()).select_from(inbox)) or 0
            seq = connection.scalar(select(func.coalesce(func.max(outbox.c.seq), 0))) or 0
        return Snapshot(domain, rows, seq)

    def inbox_has(self, message_id: str) -> bool:
        query = select(func.count()).where(inbox.c.message_id == message_id)
        with self.engine.connect() as connection:
            return bool(connection.scalar(query))

    def outbox_since(self, seq: int) -> list[dict[str, Any]]:
        query = select(outbox.c.payload).where(outbox.c.seq > seq).order_by(outbox.c.seq)
        with self.engine.connect() as connection:
            return [dict(payload) for payload in connection.scalars(query)]

    def documents_in(self, folder_id: str) -> dict[str, dict[str, Any]]:
        columns = (documents.c.name, documents.c.mime_type, documents.c.blob_uri, documents.c.tags)
        query = select(documents.c.id, *columns).where(documents.c.folder_id == folder_id)
        with self.engine.connect() as connection:
            return {row.id: stored_fields(row._asdict()) for row in connection.execute(query)}

    def close(self) -> None:
        self.engine.dispose()


def stored_fields(document: dict[str, Any]) -> dict[str, Any]:
    return {field: document[field] for field in ("name", "mime_type", "blob_uri", "tags")}


def _fingerprint(table: str) -> str:
    digest = "coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
    return f"SELECT count(*) || ':' || {digest} FROM {table} t"


class Queues:
    """A plain AMQP producer on the fleet's vhost, as docs/contract.md tells one to publish."""

    def __init__(self, amqp_url: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()

    def publish(self, queue: str, body: bytes) -> None:
        properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
        self._channel.basic_publish("", queue, body, properties, mandatory=True)

    def dead_letters(self, queue: str) -> int:
        return int(self._channel.queue_declare(f"{queue}.XQ", passive=True).method.message_count)

    def close(self) -> None:
        self._connection.close()


class Cache:
    """The Valkey keys under the fleet's prefix, and the answers of queries stored there."""

    def __init__(self, settings: Settings) -> None:
        self._client = valkey.Valkey.from_url(settings.valkey_url)
        self.prefix = settings.cache_prefix

    def stored_keys(self) -> set[str]:
        return {key.decode() for key in self._client.scan_iter(match=f"{self.prefix}*", count=1000)}

    def result_key(self, message_id: str) -> str:
        return f"{self.prefix}results:documents-queries:list_folder:{message_id}"

    def answer(self, message_id: str) -> dict[str, Any]:
        def stored() -> bytes | None:
            value: bytes | None = self._client.lindex(self.result_key(message_id), 0)  # type: ignore[assignment]
            return value

        return dict(json.loads(wait_for(stored, WAIT_S, f"answer to {message_id}", interval=0.02)))

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


@dataclass
class Probe:
    log: FleetLog
    database: Database
    queues: Queues
    cache: Cache

    def close(self) -> None:
        self.queues.close()
        self.database.close()
        self.cache.close()


@dataclass(frozen=True)
class Before:
    """What the fleet had written before a message was sent."""

    mark: int
    database: Snapshot
    keys: set[str]
    dead_letters: dict[str, int]

    @classmethod
    def take(cls, probe: Probe) -> Before:
        queues = ("documents", "documents-queries")
        dead_letters = {queue: probe.queues.dead_letters(queue) for queue in queues}
        return cls(probe.log.mark(), probe.database.snapshot(), probe.cache.stored_keys(), dead_letters)
