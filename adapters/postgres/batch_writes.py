"""The document and policy writes of a batch's committed messages, folded into the batch's commit
statement (``commit_statement``): one part per table for the rows several messages wrote, where each
message used to send statements of its own.

Each row is written once, in the state the last message left it: a document is inserted at its latest
version when the batch created it, and a policy is upserted, or deleted, by its last change. Rows go in
the order of their keys: two batches writing the same rows (the same upload, sent twice under new ids,
run by two processes at once) then take them in one order, so neither can hold a row the other waits
for while it waits for one the other holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.postgres.arrays import bigint_array, text_array
from adapters.postgres.mappers import DOCUMENT_COLUMNS
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.model import Document
from domain.roles import Role

_INSERT_DOCUMENTS = (
    f"INSERT INTO documents ({DOCUMENT_COLUMNS})"
    " SELECT id, org_id, folder_id, owner_id, uploaded_by, name, mime_type, version, blob_uri, tags::text[],"
    " created_at, updated_at FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
    " %s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])"
    f" AS written ({DOCUMENT_COLUMNS})"
)
_PUT_ROLES = (
    "INSERT INTO access_policies (document_id, user_id, role)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])"
    " ON CONFLICT (document_id, user_id) DO UPDATE SET role = excluded.role"
)
# The documents' ids come twice: in the pairs, and as a condition on the key, so that the statement's plan,
# made once for every batch (``GENERIC_PLANS_FOR_WRITES``), reads only their policies, however it joins.
_REMOVE_ROLES = (
    "DELETE FROM access_policies p USING unnest(%s::text[], %s::text[]) AS gone (document_id, user_id)"
    " WHERE p.document_id = ANY(%s::text[]) AND p.document_id = gone.document_id AND p.user_id = gone.user_id"
)


class BatchWrites:
    """Collects the writes as the batch's messages commit; ``send`` puts them into its transaction."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}  # sorted by id when sent
        self._created: set[str] = set()  # ids whose first version this batch writes
        self._roles: dict[tuple[str, str], tuple[Document, str, Role | None]] = {}  # None: removed

    def save_document(self, document: Document) -> None:
        if document.version == 1:
            self._created.add(document.id)
        self._documents[document.id] = document

    def change_role(self, document: Document, user_id: str, role: Role | None) -> None:
        self._roles[document.id, user_id] = (document, user_id, role)

    def send(self, transaction: SqlUnitOfWork) -> None:
        """Folds the writes into the transaction's commit statement; documents stored before the batch
        get their later version now, one by one, each checked as ever."""
        documents = [self._documents[doc_id] for doc_id in sorted(self._documents)]
        created = [doc for doc in documents if doc.id in self._created]
        if created:
            transaction.write_at_commit("documents", _INSERT_DOCUMENTS, _document_columns(created))
        for document in documents:
            if document.id not in self._created:
                transaction.documents.save(document)
        _fold_roles(transaction, [self._roles[key] for key in sorted(self._roles)])
        for document in (*created, *(doc for doc, _, _ in self._roles.values())):
            transaction.changes.document_changed(document)


def _fold_roles(transaction: SqlUnitOfWork, changes: list[tuple[Document, str, Role | None]]) -> None:
    puts = [(doc.id, user, role.value) for doc, user, role in changes if role is not None]
    if puts:
        transaction.write_at_commit("roles", _PUT_ROLES, _columns(puts))
    removals = [(doc.id, user) for doc, user, role in changes if role is None]
    if removals:
        documents, users = _columns(removals)
        transaction.write_at_commit("revoked", _REMOVE_ROLES, [documents, users, documents])


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows as one array literal per column."""
    return [text_array(column) for column in zip(*rows, strict=True)]


def _document_columns(documents: list[Document]) -> list[str]:
    """One array literal per column; each document at its latest version (a later one replaces the first)."""
    columns = [
        text_array([getattr(document, name) for document in documents])
        for name in ("id", "org_id", "folder_id", "owner_id", "uploaded_by", "name", "mime_type")
    ]
    columns.append(bigint_array(document.version for document in documents))
    columns.append(text_array(document.blob_uri for document in documents))
    columns.append(text_array(text_array(document.tags) for document in documents))
    for moment in ("created_at", "updated_at"):
        columns.append(text_array(getattr(document, moment).isoformat() for document in documents))
    return columns
