"""The rejection log's rows, shared by the SQLite store and the in-memory fake (issue 11).

A rejected command is kept as one flat row of text (see ``schema.rejections``); both stores
turn a :class:`Rejection` into that row and back the same way, so they filter and page alike.
"""

from __future__ import annotations

import threading
from datetime import datetime

from desktop_app.application.ports import (
    REJECTION_FIELDS,
    RecordedRejection,
    Rejection,
    StoreReadOnlyError,
)
from desktop_app.store.hashing import parse_utc, utc_text
from desktop_app.store.records import Clock, clock_text, utc_now

RejectionRow = tuple[int, str, str, str, str, str, str, str, str, str, str, str, str]
"""(rejection_id, recorded_at, user, host, source, app_version, command_type, command_id,
correlation_id, stream_id, content, error_class, message), the columns' order."""

COLUMNS = REJECTION_FIELDS
"""The ``rejections`` table's columns, in the order its rows are read (one definition)."""


def fields_of(rejection: Rejection) -> tuple[str, ...]:
    """The row's columns after ``rejection_id`` and ``recorded_at``, in order."""
    return (
        rejection.user,
        rejection.host,
        rejection.source,
        rejection.app_version,
        rejection.command_type,
        rejection.command_id,
        rejection.correlation_id,
        rejection.stream_id,
        rejection.content,
        rejection.error_class,
        rejection.message,
    )


def decode(row: tuple[object, ...]) -> RecordedRejection:
    """A stored row as a :class:`RecordedRejection`."""
    (
        rejection_id,
        recorded_at,
        user,
        host,
        source,
        app_version,
        command_type,
        command_id,
        correlation_id,
        stream_id,
        content,
        error_class,
        message,
    ) = row
    return RecordedRejection(
        rejection_id=int(rejection_id),  # type: ignore[call-overload]
        recorded_at=parse_utc(str(recorded_at)),
        rejection=Rejection(
            user=str(user),
            host=str(host),
            source=str(source),
            app_version=str(app_version),
            command_type=str(command_type),
            command_id=str(command_id),
            correlation_id=str(correlation_id),
            stream_id=str(stream_id),
            content=str(content),
            error_class=str(error_class),
            message=str(message),
        ),
    )


def window_text(value: datetime | None) -> str | None:
    """A window bound as stored text (fixed width UTC, so text order is time order)."""
    return None if value is None else utc_text(value)


def check_limit(limit: int) -> int:
    """Pages are bounded: a caller asking for everything gets pages of at most 10,000."""
    return max(0, min(int(limit), 10_000))


class InMemoryRejectionLog:
    """``RejectionLog`` held in memory; behaves like ``SqliteRejectionLog`` (contract suite).

    ``read_only`` plays a database opened read-only: ``record`` refuses, reads answer.
    """

    def __init__(self, *, clock: Clock | None = None, read_only: bool = False) -> None:
        self._clock: Clock = clock or utc_now
        self._lock = threading.Lock()
        self._rows: list[RejectionRow] = []
        self.read_only = read_only

    def record(self, rejection: Rejection) -> RecordedRejection:
        """Store one rejection (see ``RejectionLog.record``)."""
        if self.read_only:
            raise StoreReadOnlyError("Changes cannot be saved: the database is read-only.")
        with self._lock:
            row: RejectionRow = (
                len(self._rows) + 1,
                clock_text(self._clock),
                *fields_of(rejection),
            )  # type: ignore[assignment]
            self._rows.append(row)
        return decode(row)

    def for_stream(
        self, stream_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[RecordedRejection]:
        """Rejections aimed at ``stream_id``, oldest first."""
        limit = check_limit(limit)
        with self._lock:
            rows = [r for r in self._rows if r[9] == stream_id and r[0] > after_id]
        return [decode(r) for r in rows[:limit]]

    def in_window(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[RecordedRejection]:
        """Rejections in ``[since, until)``, by ``user`` when given, oldest first."""
        limit = check_limit(limit)
        low, high = window_text(since), window_text(until)
        with self._lock:
            rows = [
                r
                for r in self._rows
                if r[0] > after_id
                and (low is None or r[1] >= low)
                and (high is None or r[1] < high)
                and (user is None or r[2] == user)
            ]
        return [decode(r) for r in rows[:limit]]


__all__ = ["COLUMNS", "InMemoryRejectionLog", "RejectionRow", "decode", "fields_of"]
