"""Helpers for the Valkey tests (no tests here): domain objects, a test clock, clients that fail on cue."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import MutableMapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import valkey
from valkey.commands.core import Script

from domain.listing import FolderListing, ListedDocument
from domain.model import Document

COMMAND_NAME = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")  # a RESP command's first word
NOTHING_LISTENS = "redis://127.0.0.1:1/0"
TTL_SECONDS = 600
MOMENT = datetime(2024, 5, 17, 9, 30, 12, 345678, tzinfo=UTC)


def a_document(doc_id: str = "doc-1", version: int = 1, **changes: Any) -> Document:
    fields: dict[str, Any] = {
        "id": doc_id,
        "org_id": "org-1",
        "folder_id": "folder-1",
        "owner_id": "ana",
        "name": "Relatório «final» ☂.pdf",
        "mime_type": "application/pdf",
        "version": version,
        "blob_uri": f"s3://blobs/{doc_id}/{version}",
        "tags": ("finance", "q3"),
        "created_at": MOMENT,
        "updated_at": MOMENT + timedelta(days=version),
        "uploaded_by": "bo",
    }
    return Document(**{**fields, **changes})


def a_listing(folder_id: str, version: int, *doc_ids: str) -> FolderListing:
    entries = [
        ListedDocument(
            a_document(doc_id, folder_id=folder_id, created_at=MOMENT + timedelta(minutes=position)),
            frozenset({"ana", f"reader-of-{doc_id}"}),
        )
        for position, doc_id in enumerate(doc_ids)
    ]
    return FolderListing.newest_first(folder_id, "org-1", version, entries)


def degraded_lines(logs: Sequence[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"].startswith("valkey_cache")]


class Switchable:
    """A client forwarding every call to ``target``, so that a test can take Valkey away and back."""

    def __init__(self, target: valkey.Valkey) -> None:
        self.target = target
        self.calls = 0

    def register_script(self, script: str) -> Script:
        return Script(self.as_client(), script)

    def as_client(self) -> valkey.Valkey:
        return cast(valkey.Valkey, self)

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        return getattr(self.target, name)


class StallingServer:
    """Answers a connection's handshake, then never a command: a Valkey too slow to wait for. It notes
    the commands it was sent, so a test can count the timeouts a client paid."""

    def __init__(self) -> None:
        self.connections = 0
        self._received: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"

    @property
    def unanswered(self) -> list[str]:
        """The names of the commands it was sent beyond the handshake (``CLIENT SETINFO``), in order."""
        with self._lock:
            received = b"".join(self._received)
        names = (name.decode() for name in COMMAND_NAME.findall(received))
        return [name for name in names if name.upper() != "CLIENT"]

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer_handshake, args=(connection,), daemon=True).start()

    def _answer_handshake(self, connection: socket.socket) -> None:
        with connection, suppress(OSError):
            while chunk := connection.recv(65536):
                with self._lock:
                    self._received.append(chunk)
                connection.sendall(b"+OK\r\n" * chunk.count(b"SETINFO"))
