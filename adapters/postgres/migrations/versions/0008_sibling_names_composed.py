"""``uq_folders_sibling_name`` compares names in Unicode's composed form (NFC).

The same name can be sent as different code points: "Résumés" with "é" as one code point (as most
keyboards and web forms write it) or as "e" and a combining accent (as macOS writes file names). The
index compared code points, so both forms could exist side by side in one folder and look identical in
every listing. It now holds ``normalize(name, NFC)``, as ``domain.model.same_name`` compares names. Names
are still stored and announced exactly as sent.

The upgrade refuses, naming them, sibling folders whose names are already one name once composed (an
accent written two ways; also, as NFC defines it, the Ångström sign beside Å or a CJK compatibility
ideograph beside its unified form): which one to rename is the organization's decision, not the
migration's. ``normalize`` needs a UTF8 database (Postgres refuses it otherwise, saying so); docfleet's are.

The new index is built before the old one is dropped. While it is built, writes to ``folders`` wait:
every command that changes a listing raises its folder's version, so uploads, shares, revocations and
new folders wait, and listings do not; dropping the old index then holds every use of the table for the
moment the transaction takes to commit. The upgrade took 0.33 s with 100,000 folders here.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from adapters.postgres.migrations import MigrationRefused

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_INDEX = "uq_folders_sibling_name"
_BUILDING = "uq_folders_sibling_name_nfc"
_SHOWN = 20

_SAME_ONCE_COMPOSED = sa.text(
    "SELECT org_id, parent_id, array_agg(id ORDER BY id) FROM folders"
    " GROUP BY org_id, parent_id, normalize(name, NFC) HAVING count(*) > 1"
    " ORDER BY org_id, parent_id LIMIT :limit"
)


def upgrade() -> None:
    _refuse_colliding_siblings()
    _create_index(_BUILDING, sa.text("normalize(name, NFC)"))
    op.drop_index(_INDEX, table_name="folders")
    op.execute(f"ALTER INDEX {_BUILDING} RENAME TO {_INDEX}")


def downgrade() -> None:
    _create_index(_BUILDING, "name")  # names distinct once composed are distinct as sent: this cannot fail
    op.drop_index(_INDEX, table_name="folders")
    op.execute(f"ALTER INDEX {_BUILDING} RENAME TO {_INDEX}")


def _create_index(name: str, sibling_name: sa.TextClause | str) -> None:
    op.create_index(
        name, "folders", ["org_id", sa.text("coalesce(parent_id, '')"), sibling_name], unique=True
    )


def _refuse_colliding_siblings() -> None:
    if context.is_offline_mode():  # SQL printed to be run elsewhere: no rows to look at here
        return
    rows = op.get_bind().execute(_SAME_ONCE_COMPOSED, {"limit": _SHOWN + 1}).all()
    if not rows:
        return
    groups = "; ".join(
        f"organization {org!r}, {'root' if parent is None else f'parent {parent!r}'}: {', '.join(ids)}"
        for org, parent, ids in rows[:_SHOWN]
    )
    more = f" (the first {_SHOWN} groups)" if len(rows) > _SHOWN else ""
    raise MigrationRefused(
        "0008 compares sibling folder names in Unicode's composed form (NFC), and these siblings' names"
        f" are one name in it, written with different code points{more}: {groups}. Rename all but one"
        " of each group (UPDATE folders SET name = ... WHERE id = ...), then migrate again"
    )
