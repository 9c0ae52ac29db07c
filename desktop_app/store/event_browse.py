"""The event browser's reads on an Order Desk SQLite file (issue 11, P9).

A page is one statement that reads one index range in ``(recorded_at, position)`` order and
stops after ``limit`` rows, never sorting: schema 6's ``ix_events_browse`` (time, position,
user, host, event type, correlation id), named here rather than left to the planner.
Unfiltered and time-window pages take its entries as they come; user, host, event type and
correlation filters are checked on the entries themselves, without reading the table. A
command id is looked up in the ``commands`` table first (its events are one append: a
position range; every command the application writes has a row there).

A filter that matches rarely could make such a read run through the whole log (~0.2 s per
million events), so a filtered page searches at most ``scan_budget`` entries (5,000 first,
then the rest): if its page is not full by then it ends there, saying how far it searched
(``EventsPage.reached``), and the next page goes on from that point. Hand-written driver SQL
on a pooled connection (a page is the browser's hot path); the index expressions come from
``schema.event_meta``, so they match the index.

A file older than schema 6 opened read-only (so not upgraded) has no such index: its pages are
the same, found by scanning the table (unbounded).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect

from desktop_app.application.event_browser import (
    EVENT,
    REJECTION,
    Direction,
    EventsPage,
    LogFilter,
    LogKey,
)
from desktop_app.application.ports import RecordedRejection
from desktop_app.store.engine import Database
from desktop_app.store.hashing import parse_utc, utc_text
from desktop_app.store.records import decode_rows
from desktop_app.store.rejection_log import COLUMNS, check_limit, decode
from desktop_app.store.schema import BROWSE_SINCE, REJECTIONS_SINCE, event_meta


def _meta_sql(name: str) -> str:
    expression = event_meta(name).compile(
        dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(expression)


_USER, _HOST, _CORRELATION, _CAUSATION = (
    _meta_sql(n) for n in ("user", "host", "correlation_id", "causation_id")
)

_EVENT_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, payload, metadata, "
    "recorded_at, prev_hash, hash"
)
_REJECTION_COLUMNS = ", ".join(f'"{c}"' for c in COLUMNS)

_LAST = 2**63 - 1
"""Above every position and rejection number."""

SCAN_BUDGET = 120_000
"""Index entries one page may search for a filter no index leads with (~50 ms on one core)."""

_FIRST_SEARCH = 5_000
"""Entries a bounded page searches first (then the whole budget, if its page is not full)."""

_BROWSE = "ix_events_browse"


class SqliteLogBrowse:
    """``LogBrowse`` on the ``events`` and ``rejections`` tables of one database."""

    def __init__(self, db: Database, *, scan_budget: int = SCAN_BUDGET) -> None:
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
        indexed = self._db.schema_version >= BROWSE_SINCE
        with self._db.raw(hold=False) as con:
            span = None
            if where.command_id is not None:
                span = _command_span(con, where.command_id)
                if span is None:
                    return EventsPage([])
            # A short search first: a filter that matches often fills its page there, without
            # paying for the probe of the whole budget.
            budgets = (min(_FIRST_SEARCH, self._budget), self._budget)
            stop = None
            for budget in budgets if indexed and bounded(where) else (None,):
                if budget is not None:
                    stop = _stop_key(con, where, cursor, direction, budget)
                sql, params = events_sql(where, cursor, direction, span, stop=stop, indexed=indexed)
                rows = con.execute(sql, (*params, limit)).fetchall()
                if len(rows) >= limit or stop is None:
                    break
        events = decode_rows(rows)
        return EventsPage(events, stop if stop is not None and len(events) < limit else None)

    def rejections_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> list[RecordedRejection]:
        """See ``LogBrowse.rejections_page``: the time index, the other filters per row
        (refusals are rare beside events)."""
        limit = check_limit(limit)
        if limit == 0 or not where.wants_rejections:
            return []
        if self._db.schema_version < REJECTIONS_SINCE:
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
                clauses.append(f"{column} = ?")
                params.append(value)
        _time_clauses(where, cursor, direction, "rejection_id", clauses, params, rank=REJECTION)
        order = "DESC" if direction == "older" else "ASC"
        sql = (
            f"SELECT {_REJECTION_COLUMNS} FROM rejections INDEXED BY ix_rejections_time"  # noqa: S608
            f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
            f" ORDER BY recorded_at {order}, rejection_id {order} LIMIT ?"
        )
        with self._db.raw(hold=False) as con:
            rows = con.execute(sql, (*params, limit)).fetchall()
        return [decode(tuple(row)) for row in rows]

    def order_numbers(self, order_ids: Sequence[str]) -> dict[str, str]:
        """See ``LogBrowse.order_numbers``: each order's first event, by the stream index."""
        numbers: dict[str, str] = {}
        streams = [f"order-{order_id}" for order_id in order_ids]
        with self._db.raw(hold=False) as con:
            for start in range(0, len(streams), 500):  # SQLite's bound-parameter limit
                chunk = streams[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    "SELECT stream_id, json_extract(payload, '$.order_number') FROM events "  # noqa: S608
                    f"WHERE stream_id IN ({marks}) AND version = 1",
                    chunk,
                ).fetchall()
                numbers.update(
                    (str(stream)[len("order-") :], number)
                    for stream, number in rows
                    if isinstance(number, str)
                )
        return numbers


def bounded(where: LogFilter) -> bool:
    """True when a page checks filters on ``ix_events_browse``'s entries (a user, host, event
    type or correlation filter, no command id): its search is bounded."""
    compared = (where.user, where.host, where.event_type, where.correlation_id)
    return where.command_id is None and compared != (None, None, None, None)


def events_sql(
    where: LogFilter,
    cursor: LogKey | None,
    direction: Direction,
    span: tuple[int, int] | None = None,
    *,
    stop: LogKey | None = None,
    indexed: bool = True,
) -> tuple[str, list[Any]]:
    """The page statement (its last parameter, the limit, left to the caller) and its other
    parameters; ``span`` the positions of ``where.command_id``'s append, ``stop`` the last
    key a bounded search may reach (inclusive)."""
    clauses: list[str] = []
    params: list[Any] = []
    index = _BROWSE
    for value, expression in (
        (where.user, _USER),
        (where.host, _HOST),
        (where.event_type, "type_name"),
        (where.correlation_id, _CORRELATION),
    ):
        if value is not None:
            clauses.append(f"{expression} = ?")
            params.append(value)
    if where.command_id is not None:
        low, high = span if span is not None else (0, -1)
        clauses += ["position BETWEEN ? AND ?", f"{_CAUSATION} = ?"]
        params += [low, high, where.command_id]
        index = ""  # one append's few rows: the primary key's range, then sorted
    _time_clauses(where, cursor, direction, "position", clauses, params, rank=0)
    if stop is not None:
        at = utc_text(stop.recorded_at)
        if direction == "older":
            clauses += ["recorded_at >= ?", "(recorded_at > ? OR position >= ?)"]
        else:
            clauses += ["recorded_at <= ?", "(recorded_at < ? OR position <= ?)"]
        params += [at, at, stop.number]
    hint = f" INDEXED BY {index}" if index and indexed else ""
    order = "DESC" if direction == "older" else "ASC"
    sql = (
        f"SELECT {_EVENT_COLUMNS} FROM events{hint}"  # noqa: S608 - values are bound
        f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
        f" ORDER BY recorded_at {order}, position {order} LIMIT ?"
    )
    return sql, params


def _stop_key(
    con: sqlite3.Connection,
    where: LogFilter,
    cursor: LogKey | None,
    direction: Direction,
    budget: int,
) -> LogKey | None:
    """Where a bounded search stops: the key ``budget`` entries along ``ix_events_browse``
    from the cursor (in the time window; entries sharing that instant are taken whole), or
    None when fewer remain. Two index-only probes that bound one page's work; the page itself
    is read by key, from the cursor."""
    clauses: list[str] = []
    params: list[Any] = []
    _time_clauses(where, cursor, direction, "position", clauses, params, rank=0)
    filters = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    older = direction == "older"
    order, edge = ("DESC", "min") if older else ("ASC", "max")
    count, at = con.execute(
        f"SELECT count(*), {edge}(recorded_at) FROM (SELECT recorded_at FROM events "  # noqa: S608
        f"INDEXED BY {_BROWSE}{filters} ORDER BY recorded_at {order}, position {order} LIMIT ?)",
        (*params, budget),
    ).fetchone()
    if int(count) < budget:
        return None
    (number,) = con.execute(
        f"SELECT {edge}(position) FROM events INDEXED BY {_BROWSE}"  # noqa: S608
        f"{filters}{' AND' if clauses else ' WHERE'} recorded_at = ?",
        (*params, at),
    ).fetchone()
    return LogKey(parse_utc(str(at)), EVENT, int(number))


def _command_span(con: sqlite3.Connection, command_id: str) -> tuple[int, int] | None:
    row = con.execute(
        "SELECT first_position, last_position FROM commands WHERE command_id = ?", (command_id,)
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
    """The time window and the keyset bound on ``(recorded_at, rank, number)``, written as a
    range on ``recorded_at`` (what the index narrows) plus the tie at the cursor's instant."""
    if where.since is not None:
        clauses.append("recorded_at >= ?")
        params.append(utc_text(where.since))
    if where.until is not None:
        clauses.append("recorded_at < ?")
        params.append(utc_text(where.until))
    if cursor is None:
        return
    at = utc_text(cursor.recorded_at)
    if direction == "older":
        # Same instant: this kind's rows come before the cursor when its rank is lower, or the
        # rank is the same and the number lower.
        bound = _LAST if rank < cursor.rank else cursor.number if rank == cursor.rank else 0
        clauses += ["recorded_at <= ?", f"(recorded_at < ? OR {number} < ?)"]
    else:
        bound = 0 if rank > cursor.rank else cursor.number if rank == cursor.rank else _LAST
        clauses += ["recorded_at >= ?", f"(recorded_at > ? OR {number} > ?)"]
    params += [at, at, bound]


__all__ = ["SCAN_BUDGET", "SqliteLogBrowse", "bounded", "events_sql"]
