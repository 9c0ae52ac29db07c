"""The rejection log on a server database (``rejections``, issue 11): the same rows and
paging as the SQLite file's (``store/rejection_store.py``), in SQLAlchemy Core.

A rejection id comes from a sequence, and sequences commit out of order: each insert takes an
advisory lock first (as appends do), so ids commit in order and ``after_id`` paging never
passes over a rejection that commits later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, insert, select

from desktop_app.application.ports import RecordedRejection, Rejection
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.postgres.ddl import REJECTION_LOCK_KEY, pg_metadata
from desktop_app.store.records import Clock, clock_text, utc_now
from desktop_app.store.rejection_log import COLUMNS, check_limit, decode, fields_of, window_text

_rejections = pg_metadata.tables["rejections"]
_ALL = tuple(_rejections.c[name] for name in COLUMNS)


class PostgresRejectionLog:
    """``RejectionLog`` on a server database (insert-only for clerks, by grants and triggers)."""

    def __init__(self, db: PostgresDatabase, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock: Clock = clock or utc_now

    def record(self, rejection: Rejection) -> RecordedRejection:
        """Store one rejection (``StoreReadOnlyError`` when this open may not write)."""
        values = dict(zip(COLUMNS[2:], fields_of(rejection), strict=True))
        when = clock_text(self._clock)
        with self._db.write() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(REJECTION_LOCK_KEY)))
            new_id = conn.execute(
                insert(_rejections).values(recorded_at=when, **values)
            ).inserted_primary_key
        assert new_id is not None
        return decode((int(new_id[0]), when, *fields_of(rejection)))

    def _page(
        self, query: Select[tuple[object, ...]], after_id: int, limit: int
    ) -> list[RecordedRejection]:
        limit = check_limit(limit)
        if limit == 0:
            return []
        query = (
            query.where(_rejections.c.rejection_id > after_id)
            .order_by(_rejections.c.rejection_id)
            .limit(limit)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [decode(tuple(row)) for row in rows]

    def for_stream(
        self, stream_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[RecordedRejection]:
        """Rejections aimed at ``stream_id``, oldest first."""
        return self._page(
            select(*_ALL).where(_rejections.c.stream_id == stream_id), after_id, limit
        )

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
            query = query.where(_rejections.c.recorded_at >= low)
        if high is not None:
            query = query.where(_rejections.c.recorded_at < high)
        if user is not None:
            query = query.where(_rejections.c.user == user)
        return self._page(query, after_id, limit)


__all__ = ["PostgresRejectionLog"]
