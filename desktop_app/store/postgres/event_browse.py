"""The event browser's reads on a PostgreSQL server (``application.event_browser.LogBrowse``):
the same pages as the SQLite file's (``store/event_browse.py``; one contract suite runs both).

ONE index serves every page, as on the file: ``ix_events_browse`` on (time, position, user,
host, event type, correlation id), made by ``init`` (:func:`create_browse_index`). A page is
one statement that reads it from the cursor in key order both ways (a row comparison
``(recorded_at, position) < (…)`` bounds the scan) and stops after ``limit`` rows: never an
offset, never a sort. The user, host, type and correlation filters are index conditions on
the later columns, checked on the index entries (measured at 200k events: a correlation id
searched over 120k entries in ~7 ms; checked on the table rows instead, with the JSON parsed
per row, it took ~240 ms). Only matching rows are fetched from the table. One index rather
than one per filter because every index costs every append a write (this one ~9 µs an event,
against a commit's round trips of about a millisecond).

As on the file, a filtered page searches at most ``scan_budget`` entries (5,000 first, then
the rest): if its page is not full by then it ends there and says how far it searched
(``EventsPage.reached``); the next page goes on from that point. A command id is looked up in
``commands`` first (its events are one append: a position range).

The metadata is ``text`` holding JSON, as in the file. Its fields are read by
``order_desk_meta(doc, field)``, an immutable function the index is built from and the
queries name identically (the planner matches index expressions by their form): NULL where the
text is not JSON (an event edited through SQL by the owner, which ``verify`` names), so such a
row neither blocks the index nor breaks a page, as with the file's ``json_valid`` guard.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors as pg_errors
from sqlalchemy import Connection

from desktop_app.application.event_browser import (
    EVENT,
    REJECTION,
    Direction,
    EventsPage,
    LogFilter,
    LogKey,
)
from desktop_app.application.ports import RecordedRejection, StoreError
from desktop_app.store.event_browse import SCAN_BUDGET, bounded
from desktop_app.store.hashing import parse_utc, utc_text
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.records import decode_rows
from desktop_app.store.rejection_log import COLUMNS, check_limit, decode

BROWSE_INDEX = "ix_events_browse"


def _meta(field: str, doc: str = "metadata") -> str:
    """A JSON field of ``doc`` as text, written as the index writes it."""
    return f"order_desk_meta({doc}, '{field}')"


BROWSE_DDL = (
    # NULL where the text is not JSON (see the module's docstring). PARALLEL RESTRICTED: an
    # exception block starts a subtransaction, which a parallel worker may not.
    """CREATE OR REPLACE FUNCTION order_desk_meta(doc text, field text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL RESTRICTED AS $$
    BEGIN
      RETURN doc::json ->> field;
    EXCEPTION WHEN invalid_text_representation THEN
      RETURN NULL;
    END $$""",
    f"CREATE INDEX IF NOT EXISTS {BROWSE_INDEX} ON events (recorded_at, position, "
    f"{_meta('user')}, {_meta('host')}, type_name, {_meta('correlation_id')})",
)

_FIRST_SEARCH = 5_000
"""Entries a bounded page searches first (then the whole budget, if its page is not full)."""
_LAST = 2**63 - 1
"""Above every position and rejection number."""

_EVENT_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, payload, metadata, "
    "recorded_at, prev_hash, hash"
)
_REJECTION_COLUMNS = ", ".join(f'"{c}"' for c in COLUMNS)


NEEDS_INIT = (
    "This server database has no event browser index yet (it was set up by an older version): "
    "run `desktop-app-admin init --db <url>` again as its owner; it adds what is missing and "
    "changes no history."
)


@contextmanager
def _reading(db: PostgresDatabase) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection; a database set up before the browser existed is told clearly."""
    try:
        with db.raw() as con:
            yield con
    except StoreError as exc:
        if isinstance(exc.__cause__, pg_errors.UndefinedFunction):
            raise StoreError(NEEDS_INIT) from exc
        raise


def create_browse_index(conn: Connection) -> None:
    """The browser's index and reader function (``init``, as the owner; idempotent)."""
    for ddl in BROWSE_DDL:
        conn.exec_driver_sql(ddl)


class PgLogBrowse:
    """``LogBrowse`` on the ``events`` and ``rejections`` tables of a server database."""

    def __init__(self, db: PostgresDatabase, *, scan_budget: int = SCAN_BUDGET) -> None:
        if scan_budget < 1:
            raise ValueError("scan_budget must be at least 1")
        self._db = db
        self._budget = scan_budget

    def events_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> EventsPage:
        """See ``LogBrowse.events_page``."""
        limit = check_limit(limit)
        if limit == 0:
            return EventsPage([])
        with _reading(self._db) as con:
            span = None
            if where.command_id is not None:
                span = _command_span(con, where.command_id)
                if span is None:
                    return EventsPage([])
            budgets = (min(_FIRST_SEARCH, self._budget), self._budget)
            stop = None
            rows: list[tuple[Any, ...]] = []
            for budget in budgets if bounded(where) else (None,):
                if budget is not None:
                    stop = _stop_key(con, where, cursor, direction, budget)
                sql, params = events_sql(where, cursor, direction, span, stop=stop)
                rows = con.execute(sql, (*params, limit)).fetchall()
                if len(rows) >= limit or stop is None:
                    break
        events = decode_rows(rows)
        return EventsPage(events, stop if stop is not None and len(events) < limit else None)

    def rejections_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> list[RecordedRejection]:
        """See ``LogBrowse.rejections_page``: the time index, the other filters per row."""
        limit = check_limit(limit)
        if limit == 0 or not where.wants_rejections:
            return []
        clauses: list[str] = []
        params: list[Any] = []
        for value, column in (
            (where.user, '"user"'),
            (where.host, "host"),
            (where.command_id, "command_id"),
            (where.correlation_id, "correlation_id"),
        ):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        _time_clauses(where, cursor, direction, "rejection_id", clauses, params, rank=REJECTION)
        order = "DESC" if direction == "older" else "ASC"
        sql = (
            f"SELECT {_REJECTION_COLUMNS} FROM rejections"  # noqa: S608 - values are bound
            f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
            f" ORDER BY recorded_at {order}, rejection_id {order} LIMIT %s"
        )
        with self._db.raw() as con:
            rows = con.execute(sql, (*params, limit)).fetchall()
        return [decode(tuple(row)) for row in rows]

    def order_numbers(self, order_ids: Sequence[str]) -> dict[str, str]:
        """See ``LogBrowse.order_numbers``: each order's first event, by the stream index."""
        if not order_ids:
            return {}
        streams = [f"order-{order_id}" for order_id in order_ids]
        with _reading(self._db) as con:
            rows = con.execute(
                f"SELECT stream_id, {_meta('order_number', 'payload')} FROM events "  # noqa: S608
                "WHERE stream_id = ANY(%s) AND version = 1",
                (streams,),
            ).fetchall()
        return {
            str(stream)[len("order-") :]: number
            for stream, number in rows
            if isinstance(number, str)
        }


def events_sql(
    where: LogFilter,
    cursor: LogKey | None,
    direction: Direction,
    span: tuple[int, int] | None = None,
    *,
    stop: LogKey | None = None,
) -> tuple[str, list[Any]]:
    """The page statement (its last parameter, the limit, left to the caller) and its other
    parameters; ``span`` the positions of ``where.command_id``'s append, ``stop`` the last
    key a bounded search may reach (inclusive)."""
    clauses: list[str] = []
    params: list[Any] = []
    for value, expression in (
        (where.user, _meta("user")),
        (where.host, _meta("host")),
        (where.event_type, "type_name"),
        (where.correlation_id, _meta("correlation_id")),
    ):
        if value is not None:
            clauses.append(f"{expression} = %s")
            params.append(value)
    if where.command_id is not None:
        low, high = span if span is not None else (0, -1)
        clauses += ["position BETWEEN %s AND %s", f"{_meta('causation_id')} = %s"]
        params += [low, high, where.command_id]
    _time_clauses(where, cursor, direction, "position", clauses, params, rank=EVENT)
    if stop is not None:
        compare = ">=" if direction == "older" else "<="
        clauses.append(f"(recorded_at, position) {compare} (%s, %s)")
        params += [utc_text(stop.recorded_at), stop.number]
    order = "DESC" if direction == "older" else "ASC"
    sql = (
        f"SELECT {_EVENT_COLUMNS} FROM events"  # noqa: S608 - values are bound
        f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
        f" ORDER BY recorded_at {order}, position {order} LIMIT %s"
    )
    return sql, params


def _stop_key(
    con: psycopg.Connection[Any],
    where: LogFilter,
    cursor: LogKey | None,
    direction: Direction,
    budget: int,
) -> LogKey | None:
    """Where a bounded search stops: the key ``budget`` entries along the index from the
    cursor (in the time window; entries sharing that instant are taken whole), or None when
    fewer remain. Index-only probes (no metadata read)."""
    clauses: list[str] = []
    params: list[Any] = []
    _time_clauses(where, cursor, direction, "position", clauses, params, rank=EVENT)
    filters = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    older = direction == "older"
    order, edge = ("DESC", "min") if older else ("ASC", "max")
    found = con.execute(
        f"SELECT count(*), {edge}(recorded_at) FROM (SELECT recorded_at FROM events"  # noqa: S608
        f"{filters} ORDER BY recorded_at {order}, position {order} LIMIT %s) AS s",
        (*params, budget),
    ).fetchone()
    assert found is not None
    count, at = found
    if int(count) < budget:
        return None
    number = con.execute(
        f"SELECT {edge}(position) FROM events"  # noqa: S608
        f"{filters}{' AND' if clauses else ' WHERE'} recorded_at = %s",
        (*params, at),
    ).fetchone()
    assert number is not None
    return LogKey(parse_utc(str(at)), EVENT, int(number[0]))


def _command_span(con: psycopg.Connection[Any], command_id: str) -> tuple[int, int] | None:
    row = con.execute(
        "SELECT first_position, last_position FROM commands WHERE command_id = %s", (command_id,)
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def _time_clauses(
    where: LogFilter,
    cursor: LogKey | None,
    direction: Direction,
    number: str,
    clauses: list[str],
    params: list[Any],
    *,
    rank: int,
) -> None:
    """The time window and the keyset bound on ``(recorded_at, rank, number)``: for one kind
    of row (one rank) a row comparison on ``(recorded_at, number)``, an index bound."""
    if where.since is not None:
        clauses.append("recorded_at >= %s")
        params.append(utc_text(where.since))
    if where.until is not None:
        clauses.append("recorded_at < %s")
        params.append(utc_text(where.until))
    if cursor is None:
        return
    if direction == "older":
        # Same instant: this kind's rows come before the cursor when its rank is lower, or the
        # rank is the same and the number lower.
        bound = _LAST if rank < cursor.rank else cursor.number if rank == cursor.rank else 0
        clauses.append(f"(recorded_at, {number}) < (%s, %s)")
    else:
        bound = 0 if rank > cursor.rank else cursor.number if rank == cursor.rank else _LAST
        clauses.append(f"(recorded_at, {number}) > (%s, %s)")
    params += [utc_text(cursor.recorded_at), bound]


__all__ = ["BROWSE_DDL", "BROWSE_INDEX", "PgLogBrowse", "create_browse_index", "events_sql"]
