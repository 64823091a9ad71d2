"""``uq_folders_sibling_name`` compares names in Unicode's composed form (NFC).

The same name can be sent as different code points: "Résumés" with "é" as one code point (as most
keyboards and web forms write it) or as "e" and a combining accent (as macOS writes file names). The
index compared code points, so both forms could exist side by side in one folder and look identical in
every listing. It now holds ``normalize(name, NFC)``, as ``domain.model.same_name`` compares names. Names
are still stored and announced exactly as sent.

The upgrade refuses, naming them, sibling folders whose names are already the same once composed: which
one to rename is the organization's decision, not the migration's. ``normalize`` needs a UTF8 database
(Postgres refuses it otherwise, saying so); docfleet's are.

The index is rebuilt in the migration's transaction, holding folders' writes (``create_folder`` alone)
meanwhile: a few milliseconds per ten thousand folders.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_INDEX = "uq_folders_sibling_name"
_SHOWN = 20

_SAME_ONCE_COMPOSED = sa.text(
    "SELECT org_id, parent_id, array_agg(id ORDER BY id) FROM folders"
    " GROUP BY org_id, parent_id, normalize(name, NFC) HAVING count(*) > 1"
    " ORDER BY org_id, parent_id LIMIT :shown"
)


class SiblingNamesCollide(RuntimeError):
    """Sibling folders whose names are one name once composed: the unique index cannot be built."""


def upgrade() -> None:
    _refuse_colliding_siblings()
    op.drop_index(_INDEX, table_name="folders")
    _create_index(sa.text("normalize(name, NFC)"))


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="folders")
    _create_index("name")  # names distinct once composed are distinct as sent: this cannot fail


def _create_index(name: sa.TextClause | str) -> None:
    op.create_index(_INDEX, "folders", ["org_id", sa.text("coalesce(parent_id, '')"), name], unique=True)


def _refuse_colliding_siblings() -> None:
    rows = op.get_bind().execute(_SAME_ONCE_COMPOSED, {"shown": _SHOWN}).all()
    if not rows:
        return
    groups = "; ".join(
        f"organization {org!r}, {'root' if parent is None else f'parent {parent!r}'}: {', '.join(ids)}"
        for org, parent, ids in rows
    )
    more = f" (the first {_SHOWN} groups)" if len(rows) == _SHOWN else ""
    raise SiblingNamesCollide(
        "these sibling folders have names that differ only in how their accents are encoded (Unicode"
        f" NFC and NFD), which 0008 makes one name{more}: {groups}. Rename all but one of each group"
        " (UPDATE folders SET name = ... WHERE id = ...), then migrate again."
    )
