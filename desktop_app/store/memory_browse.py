"""The event browser's reads over the in-memory stores (tests, demos): the same pages as
``store/event_browse.py`` gives on a file (the contract suite runs both)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from desktop_app.application.event_browser import (
    Direction,
    EventsPage,
    LogFilter,
    LogKey,
    event_key,
    matches_event,
    matches_rejection,
    rejection_key,
)
from desktop_app.application.ports import EventStore, RecordedRejection, RejectionLog, StoredEvent
from desktop_app.store.rejection_log import check_limit

_CHUNK = 10_000
T = TypeVar("T")


class InMemoryLogBrowse:
    """``LogBrowse`` over any event store and rejection log, by reading them whole (fine for
    the few thousand events a test or demo holds; the SQLite store reads indexes)."""

    def __init__(self, events: EventStore, rejections: RejectionLog) -> None:
        self._events = events
        self._rejections = rejections

    def events_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> EventsPage:
        """See ``LogBrowse.events_page`` (never bounded: the whole log is at hand)."""
        found: list[StoredEvent] = []
        after = 0
        while batch := self._events.read_all(after_position=after, limit=_CHUNK):
            after = batch[-1].position
            found += [ev for ev in batch if matches_event(where, ev)]
        return EventsPage(_page(found, event_key, cursor, direction, limit))

    def rejections_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> list[RecordedRejection]:
        """See ``LogBrowse.rejections_page``."""
        if not where.wants_rejections:
            return []
        found: list[RecordedRejection] = []
        after = 0
        while batch := self._rejections.in_window(after_id=after, limit=_CHUNK):
            after = batch[-1].rejection_id
            found += [r for r in batch if matches_rejection(where, r)]
        return _page(found, rejection_key, cursor, direction, limit)

    def order_numbers(self, order_ids: Sequence[str]) -> dict[str, str]:
        """See ``LogBrowse.order_numbers``."""
        numbers: dict[str, str] = {}
        for order_id in order_ids:
            first = self._events.read_stream(f"order-{order_id}", to_version=1)
            number = first[0].payload.get("order_number") if first else None
            if isinstance(number, str):
                numbers[order_id] = number
        return numbers


def _page(
    found: list[T],
    key: Callable[[T], LogKey],
    cursor: LogKey | None,
    direction: Direction,
    limit: int,
) -> list[T]:
    limit = check_limit(limit)
    if direction == "older":
        rows = [r for r in found if cursor is None or key(r) < cursor]
        rows.sort(key=key, reverse=True)
    else:
        rows = [r for r in found if cursor is None or key(r) > cursor]
        rows.sort(key=key)
    return rows[:limit]


__all__ = ["InMemoryLogBrowse"]
