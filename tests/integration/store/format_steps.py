"""What the file-format step tests share: a small log with command records written through the
store, raw reads of the file, and the event browser's pages as a reader sees them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from desktop_app.application.event_browser import LogFilter
from desktop_app.application.ports import EventMetadata
from desktop_app.store.engine import open_database
from desktop_app.store.event_browse import SqliteLogBrowse
from desktop_app.store.event_store import SqliteEventStore
from tests.fixtures.store_helpers import new_event


def dump(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Every row of ``sql`` on a plain sqlite3 connection (no pragmas, no upgrade)."""
    con = sqlite3.connect(path)
    try:
        return [tuple(row) for row in con.execute(sql)]
    finally:
        con.close()


def _meta(command_id: str, user: str) -> EventMetadata:
    return EventMetadata(
        correlation_id=f"corr-{command_id}",
        causation_id=command_id,
        user=user,
        host="desk-1",
        app_version="0.1.0",
        source="test",
    )


def fill_log(path: Path) -> dict[str, int]:
    """12 appends (18 events, 4 streams, users maria and tom) with their command records
    ``cmd-0`` … ``cmd-11``; returns each stream's version."""
    db = open_database(path)
    store = SqliteEventStore(db)
    versions: dict[str, int] = {}
    for n in range(12):
        meta = _meta(f"cmd-{n}", "maria" if n % 3 else "tom")
        stream = f"order-{n % 4}"
        versions[stream] = store.append(
            stream,
            versions.get(stream, 0),
            [new_event({"n": n}, metadata=meta), new_event({"m": n}, metadata=meta)][: 1 + n % 2],
            command_id=f"cmd-{n}",
            fingerprint=f"c1:{n}",
        ).version
    db.close()
    return versions


def browse_positions(path: Path) -> list[list[int]]:
    """The positions on the browser's newest page: unfiltered, by user, by command id (the file
    opened read-only, so an older one is not upgraded)."""
    db = open_database(path, read_only=True)
    try:
        browse = SqliteLogBrowse(db)
        pages = []
        for where in (LogFilter(), LogFilter(user="maria"), LogFilter(command_id="cmd-5")):
            page = browse.events_page(where, None, "older", 50)
            pages.append([event.position for event in page.events])
        return pages
    finally:
        db.close()
