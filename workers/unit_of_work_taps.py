"""Unit-of-work factories that wrap another: one that keeps a message's fingerprint in its inbox row,
and one that remembers the refusal event a use case records (``Application`` in ``workers.bootstrap``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, cast

from domain.events import CommandRejected, Event, ShareDenied
from domain.ports import UnitOfWork, UnitOfWorkFactory


def keeping(new_uow: UnitOfWorkFactory, kept: str | None) -> UnitOfWorkFactory:
    """``new_uow`` whose inbox rows keep the fingerprint ``kept``, unless the caller gives one."""

    def opening(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        return new_uow(message_id, kept if fingerprint is None else fingerprint)

    return opening


class RefusalTap:
    """A unit-of-work factory that remembers the refusal event a use case run records."""

    def __init__(self, new_uow: UnitOfWorkFactory) -> None:
        self._new_uow = new_uow
        self.refusal: ShareDenied | CommandRejected | None = None

    def __call__(self, message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        opened = self._new_uow(message_id, fingerprint)
        return cast(UnitOfWork, _TappedUnitOfWork(opened, self))

    def saw(self, event: Event) -> None:
        if isinstance(event, ShareDenied | CommandRejected):
            self.refusal = event


class _TappedUnitOfWork:
    """Forwards everything to the unit of work it wraps, showing the tap each recorded event."""

    def __init__(self, inner: UnitOfWork, tap: RefusalTap) -> None:
        self._inner = inner
        self._tap = tap

    def __enter__(self) -> _TappedUnitOfWork:
        self._inner.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def record(self, event: Event) -> None:
        self._tap.saw(event)
        self._inner.record(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
