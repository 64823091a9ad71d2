"""A page read on its own by Postgres is the page a whole listing gives, whatever the ties and the ids."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from adapters.postgres.engine import create_engine
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.listing import DocumentPage, FolderListing, PagePosition, decode_cursor
from domain.model import Folder
from domain.roles import Role
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import document_in
from tests.support.services import migrated_database

pytestmark = pytest.mark.integration
# ICU's root collation sorts "a" before "A" and "é" before "z"; Python compares code points.
UNLIKE_CODE_POINTS = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8'"

PageReader = Callable[[str, int, PagePosition | None], DocumentPage]
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
USERS = ("alice", "bob", "carol", "dave")
# Ids a collation other than code-point order sorts differently: case, punctuation, accents, prefixes.
AWKWARD = ("a", "A", "a-b", "a b", "ab", "aB", "a_b", "é", "e", "z", "Z", "~", "10", "9", "a\u0301", "日本")


def _stored_folder(engine: Engine, new_id: IdMaker) -> Folder:
    """About 120 documents, a third of them sharing their creation time with others, each user holding
    a role on some of them; alice is a member with no role on the ones she did not get."""
    folder = Folder.create(
        folder_id=new_id("folder"),
        org_id=new_id("org"),
        name="Pages",
        parent=None,
        created_by="alice",
        now=T0,
    )
    chooser = random.Random(20241201)
    prefix = new_id("doc")
    ids = [f"{prefix}-{suffix}" for suffix in AWKWARD] + [f"{prefix}-n{index}" for index in range(104)]
    with SqlUnitOfWork(engine, None) as uow:
        for user in USERS:
            uow.members.add(folder.org_id, user)
        uow.folders.add(folder)
        for doc_id in ids:
            moment = T0 + timedelta(seconds=chooser.choice((1, 2, 3, chooser.randrange(4, 400))))
            document = document_in(folder, doc_id, moment)
            uow.documents.save(document)
            for user in chooser.sample(USERS, chooser.randrange(0, len(USERS) + 1)):
                uow.policies.put(document, user, chooser.choice(list(Role)))
        uow.commit()
    return folder


def _pages(read: PageReader, user: str, limit: int) -> list[DocumentPage]:
    """Every page for ``user``, each asked from the position the one before ended at."""
    pages: list[DocumentPage] = []
    after: PagePosition | None = None
    while len(pages) < 200:
        page = read(user, limit, after)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = decode_cursor(page.next_cursor)
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
def icu_engine() -> Iterator[Engine]:
    """A database whose text sorts by a collation unlike Python's order, as a deployment's may."""
    with migrated_database(options=UNLIKE_CODE_POINTS) as url:
        engine = create_engine(url, pool_size=2)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.mark.parametrize("limit", [1, 7, 50, 1000])
def test_pages_read_alone_are_the_pages_of_the_whole_listing(
    icu_engine: Engine, new_id: IdMaker, limit: int
) -> None:
    folder = _stored_folder(icu_engine, new_id)
    with SqlUnitOfWork(icu_engine, None) as uow:
        listing = uow.documents.listing(folder, 1_000)
        assert listing is not None
        whole: FolderListing = listing
        for user in (*USERS, "mallory"):
            alone = _pages(lambda u, n, a: uow.documents.page(folder, u, n, a), user, limit)
            assert alone == _pages(whole.page_for, user, limit)
    assert sum(len(page.documents) for page in _pages(whole.page_for, "alice", limit)) > 20


def test_a_page_holds_only_its_folder_of_its_organization(engine: Engine, new_id: IdMaker) -> None:
    folder = _stored_folder(engine, new_id)
    elsewhere = _stored_folder(engine, new_id)
    with SqlUnitOfWork(engine, None) as uow:
        page = uow.documents.page(folder, "alice", 1000, None)
        forged = uow.documents.page(dataclasses.replace(folder, org_id=elsewhere.org_id), "alice", 1000, None)
    assert page.documents
    assert {document.folder_id for document in page.documents} == {folder.id}
    assert forged == DocumentPage((), None)
