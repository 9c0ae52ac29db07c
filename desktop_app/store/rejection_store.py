"""The rejection log on an Order Desk SQLite file (``schema.rejections``, issue 11).

Not a hot path (a refused command is rare and already cost a round trip), so SQLAlchemy Core
on the database's one pool. A file older than ``REJECTIONS_SINCE`` opened read-only (so not
upgraded) has no table: its rejection log is empty, and nothing can be recorded there anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, insert, select

from desktop_app.application.ports import RecordedRejection, Rejection
from desktop_app.store.engine import Database
from desktop_app.store.records import Clock, clock_text, utc_now
from desktop_app.store.rejection_log import (
    COLUMNS,
    check_limit,
    decode,
    fields_of,
    window_text,
)
from desktop_app.store.schema import REJECTIONS_SINCE, rejections

_ALL = tuple(rejections.c[name] for name in COLUMNS)


class SqliteRejectionLog:
    """``RejectionLog`` on the ``rejections`` table (append-only by this program)."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock: Clock = clock or utc_now

    def record(self, rejection: Rejection) -> RecordedRejection:
        """Store one rejection (``StoreReadOnlyError`` on a read-only database)."""
        values = dict(zip(COLUMNS[2:], fields_of(rejection), strict=True))
        when = clock_text(self._clock)
        with self._db.write() as conn:
            new_id = conn.execute(
                insert(rejections).values(recorded_at=when, **values)
            ).inserted_primary_key
        assert new_id is not None
        return decode((int(new_id[0]), when, *fields_of(rejection)))

    def _has_table(self) -> bool:
        return self._db.schema_version >= REJECTIONS_SINCE

    def _page(
        self, query: Select[tuple[object, ...]], after_id: int, limit: int
    ) -> list[RecordedRejection]:
        limit = check_limit(limit)
        if limit == 0 or not self._has_table():
            return []
        query = (
            query.where(rejections.c.rejection_id > after_id)
            .order_by(rejections.c.rejection_id)
            .limit(limit)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [decode(tuple(row)) for row in rows]

    def for_stream(
        self, stream_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[RecordedRejection]:
        """Rejections aimed at ``stream_id``, oldest first (index ``ix_rejections_stream``)."""
        query = select(*_ALL).where(rejections.c.stream_id == stream_id)
        return self._page(query, after_id, limit)

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
        query = select(*_ALL)
        low, high = window_text(since), window_text(until)
        if low is not None:
            query = query.where(rejections.c.recorded_at >= low)
        if high is not None:
            query = query.where(rejections.c.recorded_at < high)
        if user is not None:
            query = query.where(rejections.c.user == user)
        return self._page(query, after_id, limit)


__all__ = ["SqliteRejectionLog"]
