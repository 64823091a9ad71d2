"""Single documents cached under ``{prefix}document:{id}``.

``put`` never replaces a cached newer version of the document. The port's ``get`` asks for no
version, so a reader that loaded a document before a writer's commit and caches it after the writer's
invalidation leaves that older version in the cache until a newer one is put or its TTL ends.
"""

from __future__ import annotations

import structlog
import valkey

from adapters.valkey.codec import UnreadableEntry, decode_document, encode_document
from adapters.valkey.entries import VersionedEntries
from adapters.valkey.guard import CacheGuard, guard_for
from domain.model import Document


class ValkeyDocumentCache:
    def __init__(
        self,
        client: valkey.Valkey,
        prefix: str,
        ttl_seconds: int,
        *,
        guard: CacheGuard | None = None,
    ) -> None:
        """Pass the same ``guard`` to every cache on ``client`` so that they degrade together."""
        self._prefix = f"{prefix}document:"
        self._entries = VersionedEntries(guard_for(client, guard), ttl_seconds)

    def get(self, document_id: str) -> Document | None:
        body = self._entries.body(self._key(document_id))
        if body is None:
            return None
        try:
            document = decode_document(body)
        except UnreadableEntry as error:
            structlog.get_logger(__name__).debug("cached_document_unreadable", error=str(error))
            return None
        return document if document.id == document_id else None

    def put(self, document: Document) -> None:
        self._entries.store(self._key(document.id), document.version, encode_document(document))

    def invalidate(self, document_ids: set[str]) -> None:
        self._entries.remove([self._key(document_id) for document_id in document_ids])

    def _key(self, document_id: str) -> str:
        return self._prefix + document_id
