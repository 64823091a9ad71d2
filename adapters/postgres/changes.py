"""What a unit of work changed, noted by the repositories as they write."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.model import Document


@dataclass
class Changes:
    folder_ids: set[str] = field(default_factory=set)
    document_ids: set[str] = field(default_factory=set)

    def document_changed(self, document: Document) -> None:
        """The document or its policies changed: its folder's listing is now out of date."""
        self.folder_ids.add(document.folder_id)
        self.document_ids.add(document.id)

    def __bool__(self) -> bool:
        return bool(self.folder_ids or self.document_ids)
