"""Faults of the Postgres adapter that are not refusals by the rules."""

from __future__ import annotations


class StaleDocumentVersion(RuntimeError):
    """Another unit of work stored this version of the document, or a later one, first.

    Nothing was written. The command is not refused: a retry re-reads the document and decides again.
    """

    def __init__(self, document_id: str, version: int) -> None:
        super().__init__(f"document {document_id!r} already has version {version} or a later one")
        self.document_id = document_id
        self.version = version
