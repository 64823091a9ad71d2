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

The new index is built before the old one is dropped, both ``CONCURRENTLY``, outside a transaction:
uploads, shares, revocations and new folders (every command that changes a listing raises its folder's
version) go on while it is built. The build first waits for the transactions already writing to
``folders`` to end, within the upgrade's lock timeout; a try cut short leaves an unfinished index, which
the next try drops first. Siblings made to collide while it was built (by no docfleet command, which
compares names composed already) fail the build: they are named as before, and nothing is left behind.
The upgrade took 0.33 s with 100,000 folders here, built in place.

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
    _replace_with(sa.text("normalize(name, NFC)"))


def downgrade() -> None:
    _replace_with("name")  # names distinct once composed are distinct as sent: this cannot fail


def _replace_with(sibling_name: sa.TextClause | str) -> None:
    columns: list[str | sa.TextClause] = ["org_id", sa.text("coalesce(parent_id, '')"), sibling_name]
    with op.get_context().autocommit_block():
        _drop_concurrently(_BUILDING)
        try:
            op.create_index(_BUILDING, "folders", columns, unique=True, postgresql_concurrently=True)
        except sa.exc.IntegrityError:
            _drop_concurrently(_BUILDING)
            _refuse_colliding_siblings()
            raise
        _drop_concurrently(_INDEX)
        op.execute(f"ALTER INDEX {_BUILDING} RENAME TO {_INDEX}")


def _drop_concurrently(index: str) -> None:
    op.drop_index(index, table_name="folders", postgresql_concurrently=True, if_exists=True)


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
