"""The document and policy writes of a batch's committed messages, sent when the batch commits: one
statement per table for the rows several messages wrote, where each message would send its own.

Each row is written once, in the state the last message left it: a document is inserted at its latest
version when the batch created it, and a policy is upserted, or deleted, by its last change. Documents go
first, so the policies that refer to them find them. A single row goes through the repository's own
statement, so a lone command's transaction is what it was.
"""

from __future__ import annotations

from adapters.postgres.arrays import bigint_array, text_array
from adapters.postgres.mappers import DOCUMENT_COLUMNS
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.model import Document
from domain.roles import Role

_INSERT_FIRST_VERSIONS = (
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
_REMOVE_ROLES = (
    "DELETE FROM access_policies p USING unnest(%s::text[], %s::text[]) AS gone (document_id, user_id)"
    " WHERE p.document_id = gone.document_id AND p.user_id = gone.user_id"
)


class BatchWrites:
    """Collects the writes as the batch's messages commit; ``send`` puts them into its transaction."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self._created: set[str] = set()  # ids whose first version this batch writes
        self._roles: dict[tuple[str, str], tuple[Document, str, Role | None]] = {}  # None: removed

    def save_document(self, document: Document) -> None:
        if document.version == 1:
            self._created.add(document.id)
        self._documents[document.id] = document

    def change_role(self, document: Document, user_id: str, role: Role | None) -> None:
        self._roles[document.id, user_id] = (document, user_id, role)

    def send(self, transaction: SqlUnitOfWork) -> None:
        """Queues the statements in the transaction; what the database refuses fails at its commit.
        Documents stored before the batch get their later version one by one, each checked as ever."""
        created = [doc for doc in self._documents.values() if doc.id in self._created]
        _insert_first_versions(transaction, created)
        for document in self._documents.values():
            if document.id not in self._created:
                transaction.documents.save(document)
        changes = self._roles.values()
        _put_roles(transaction, [(doc, user, role) for doc, user, role in changes if role is not None])
        _remove_roles(transaction, [(doc, user) for doc, user, role in changes if role is None])


def _insert_first_versions(transaction: SqlUnitOfWork, documents: list[Document]) -> None:
    """The documents the batch created, each at its latest version (a later one replaces the first)."""
    if not documents:
        return
    if len(documents) == 1 and documents[0].version == 1:
        transaction.documents.save(documents[0])
        return
    columns = [
        text_array([getattr(document, name) for document in documents])
        for name in ("id", "org_id", "folder_id", "owner_id", "uploaded_by", "name", "mime_type")
    ]
    columns.append(bigint_array(document.version for document in documents))
    columns.append(text_array(document.blob_uri for document in documents))
    columns.append(text_array(text_array(document.tags) for document in documents))
    for moment in ("created_at", "updated_at"):
        columns.append(text_array(getattr(document, moment).isoformat() for document in documents))
    transaction.session.send(_INSERT_FIRST_VERSIONS, columns)
    for document in documents:
        transaction.changes.document_changed(document)


def _put_roles(transaction: SqlUnitOfWork, puts: list[tuple[Document, str, Role]]) -> None:
    if len(puts) < 2:
        for document, user_id, role in puts:
            transaction.policies.put(document, user_id, role)
        return
    ids = text_array(document.id for document, _, _ in puts)
    users = text_array(user_id for _, user_id, _ in puts)
    roles = text_array(role.value for _, _, role in puts)
    transaction.session.send(_PUT_ROLES, (ids, users, roles))
    for document, _, _ in puts:
        transaction.changes.document_changed(document)


def _remove_roles(transaction: SqlUnitOfWork, removals: list[tuple[Document, str]]) -> None:
    if len(removals) < 2:
        for document, user_id in removals:
            transaction.policies.remove(document, user_id)
        return
    ids, users = text_array(d.id for d, _ in removals), text_array(user for _, user in removals)
    transaction.session.send(_REMOVE_ROLES, (ids, users))
    for document, _ in removals:
        transaction.changes.document_changed(document)
