"""Faults of the Postgres adapter that are not refusals by the rules."""

from __future__ import annotations

import psycopg


class WrittenConcurrently(RuntimeError):
    """Another unit of work wrote the same row first; nothing was written. An expected race, not a bug:
    a retry reads the row and decides again."""


class MemberAddedConcurrently(WrittenConcurrently):
    """Another unit of work added this membership first (``SqlMemberRepository.add``)."""


class FolderCreatedConcurrently(WrittenConcurrently):
    """Another unit of work created this folder, or a sibling of the same name, first."""


class StaleDocumentVersion(WrittenConcurrently):
    """Another unit of work stored this version of the document, or a later one, first.

    Nothing was written. The command is not refused: a retry re-reads the document and decides again.
    """

    def __init__(self, document_id: str, version: int) -> None:
        super().__init__(f"document {document_id!r} already has version {version} or a later one")
        self.document_id = document_id
        self.version = version


def missing_table(error: BaseException) -> bool:
    """Whether ``error``, psycopg's or SQLAlchemy's around it, says a table does not exist: a database
    without the schema (or the wrong database), which no retry mends."""
    return isinstance(getattr(error, "orig", None) or error, psycopg.errors.UndefinedTable)
