"""Listings this process has decoded, kept in front of the shared Valkey cache.

A listing is asked for by (folder, version) and the version comes from Postgres, so a listing kept
here can be served to any reader who asks for that same version: it was built from a state at least
as new as that version, exactly as the Valkey entry it came from. No cross-process invalidation is
needed. A change made elsewhere raises the version, and the entry kept here stops matching.

Only the newest version of each folder is kept. The cache is bounded by the memory its listings take,
counted in documents of two readers (about 1.2 KB decoded): each reader beyond two adds a tenth of one
(about 120 bytes); the documents' text beyond ``TEXT_OF_A_DOCUMENT`` each, summed over the listing,
adds one per 1.2 KB (long names, URIs, ids, many tags: the contract lets one document hold about 20 KB
of it, decoded), as does each reader's id; and a listing counts at least one, empty or not. The folder
least recently used leaves first. Worker threads share one instance, so every access takes the lock.

Threads that miss the same version of a folder at once share one load from Postgres (``get_or_load``):
after a change to a busy folder, its readers would otherwise each read the whole folder again.

A folder whose load gave no listing (too large to list whole) is remembered, up to ``TOO_LARGE_KEPT``
folders, and answered None at once from then on, without a look in Valkey or a count in Postgres: no
command removes a document from a folder, so a folder that grew too large stays so. Were one ever to,
such a folder would only go on being paged by Postgres, whose pages are the same.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from itertools import chain
from operator import attrgetter

from domain.listing import FolderListing
from domain.model import Document
from domain.ports import ListingCache

LOAD_WAIT_S = 5.0  # a worker's statement timeout: a load that takes longer is not coming
TOO_LARGE_KEPT = 10_000  # folders remembered as too large to list whole, the least recently asked leaving


class _Load:
    """One load of a (folder, version) in flight; ``listing`` is set before ``done``, None if it failed."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.listing: FolderListing | None = None


class NearListingCache(ListingCache):
    """A ``ListingCache`` holding decoded listings in memory, in front of ``shared``."""

    def __init__(self, shared: ListingCache, max_documents: int, *, load_wait_s: float = LOAD_WAIT_S) -> None:
        self._shared = shared
        self._max_documents = max_documents
        self._load_wait_s = load_wait_s
        self._listings: OrderedDict[str, tuple[FolderListing, int]] = OrderedDict()  # with its weight
        self._documents = 0
        self._loads: dict[tuple[str, int], _Load] = {}
        self._too_large: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        # Raised by ``forget_all``: a listing read from the shared cache or Postgres while the database
        # was replaced may be the old database's, and is neither kept nor stored once it was raised.
        self._generation = 0

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        with self._lock:
            kept = self._listings.get(folder_id)
            if kept is not None and kept[0].version == version:
                self._listings.move_to_end(folder_id)
                return kept[0]
            generation = self._generation
        listing = self._shared.get(folder_id, version)
        if listing is not None:
            self._keep(listing, generation)
        return listing

    def put(self, listing: FolderListing) -> None:
        self._shared.put(listing)
        self._keep(listing, None)

    def get_or_load(
        self, folder_id: str, version: int, load: Callable[[], FolderListing | None]
    ) -> FolderListing | None:
        """As the port's, and a thread that misses while another loads the same version waits for that
        load. If it fails, gives no listing (a folder too large to list whole), or takes longer than
        ``load_wait_s`` (a slow or stuck read), each waiting thread loads for itself."""
        if self._known_too_large(folder_id):
            return None
        listing = self.get(folder_id, version)
        if listing is not None:
            return listing
        key = (folder_id, version)
        with self._lock:
            kept = self._listings.get(folder_id)
            if kept is not None and kept[0].version == version:  # a load that ended since the miss
                return kept[0]
            flight = self._loads.get(key)
            leading = flight is None
            if flight is None:
                flight = self._loads[key] = _Load()
        if not leading:
            flight.done.wait(self._load_wait_s)
            if flight.listing is not None or self._known_too_large(folder_id):
                return flight.listing
            return self._load_and_put(folder_id, load)
        try:
            flight.listing = self._load_and_put(folder_id, load)
            return flight.listing
        finally:
            with self._lock:
                del self._loads[key]
            flight.done.set()

    def _load_and_put(self, folder_id: str, load: Callable[[], FolderListing | None]) -> FolderListing | None:
        with self._lock:
            generation = self._generation
        listing = load()
        with self._lock:
            replaced = generation != self._generation
            if listing is None and not replaced:
                self._remember_too_large(folder_id)
        # The same check again in _keep: the shared put is the one it cannot undo.
        if listing is not None and not replaced:
            self._shared.put(listing)
            self._keep(listing, generation)
        return listing

    def _known_too_large(self, folder_id: str) -> bool:
        with self._lock:
            if folder_id not in self._too_large:
                return False
            self._too_large.move_to_end(folder_id)
            return True

    def _remember_too_large(self, folder_id: str) -> None:
        """Under the lock. Its listing of a smaller version, if kept, is never asked for again."""
        self._drop(folder_id)
        self._too_large[folder_id] = None
        if len(self._too_large) > TOO_LARGE_KEPT:
            self._too_large.popitem(last=False)

    def invalidate(self, folder_ids: set[str]) -> None:
        with self._lock:
            for folder_id in folder_ids:
                self._drop(folder_id)
        self._shared.invalidate(folder_ids)

    def forget_all(self) -> None:
        """Drops every listing kept here (the database they came from was replaced); Valkey's stay."""
        with self._lock:
            self._listings.clear()
            self._too_large.clear()  # another database's folder of the same id may be small
            self._documents = 0
            self._generation += 1

    def held_documents(self) -> int:
        """The listings' weight (``weight``): their documents, when none has more than two readers."""
        with self._lock:
            return self._documents

    def _keep(self, listing: FolderListing, generation: int | None) -> None:
        """Keeps ``listing``, read under ``generation`` (None: told to store it, whatever happened)."""
        size = weight(listing)
        if size > self._max_documents:
            return
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            kept = self._listings.get(listing.folder_id)
            if kept is not None and kept[0].version > listing.version:
                return
            self._drop(listing.folder_id)
            self._listings[listing.folder_id] = (listing, size)
            self._documents += size
            while self._documents > self._max_documents:
                _, (_, oldest_size) = self._listings.popitem(last=False)
                self._documents -= oldest_size

    def _drop(self, folder_id: str) -> None:
        dropped = self._listings.pop(folder_id, None)
        if dropped is not None:
            self._documents -= dropped[1]


BYTES_OF_A_DOCUMENT = 1_200  # decoded, with two readers: the unit of the bound
TEXT_OF_A_DOCUMENT = 320  # what an ordinary document's strings are counted, below: ids, name, URI, two tags
_PER_STRING = 96  # what a tag's or a reader's string and its slot cost beyond their characters


def weight(listing: FolderListing) -> int:
    """What ``listing`` counts against the bound, in documents of two readers and of ordinary text."""
    entries = listing.entries
    readers = list(chain.from_iterable(map(_READERS, entries)))
    extra_readers = len(readers) - 2 * len(entries)
    documents = [entry.document for entry in entries]
    text = _text_bytes(documents) + sum(map(len, readers))  # ids are ASCII by the contract
    extra_text = text - TEXT_OF_A_DOCUMENT * len(entries)
    extra_documents = -(-max(0, extra_text) // BYTES_OF_A_DOCUMENT)  # rounded up
    return max(1, len(entries) + max(0, extra_readers) // 10 + extra_documents)


def _text_bytes(documents: list[Document]) -> int:
    """About what the documents' strings take, together. Ids, media types and URIs are ASCII by the
    contract; names and tags outside it are all counted at the widest: four bytes a character, and
    four more for the UTF-8 copy Python keeps inside a string once it was encoded (as a listing loaded
    from Postgres is, when it is written to the shared cache)."""
    ascii_only = sum(sum(map(len, map(field, documents))) for field in _ASCII_FIELDS)
    names = list(map(_NAME, documents))
    tags = list(chain.from_iterable(map(_TAGS, documents)))
    width = 1 if all(map(str.isascii, names)) and all(map(str.isascii, tags)) else 8
    written = sum(map(len, names)) + sum(map(len, tags))
    return ascii_only + width * written + _PER_STRING * len(tags)


_READERS = attrgetter("readers")
_NAME, _TAGS = attrgetter("name"), attrgetter("tags")
_ASCII_FIELDS = tuple(
    attrgetter(name)
    for name in ("id", "org_id", "folder_id", "owner_id", "uploaded_by", "mime_type", "blob_uri")
)
