"""The full rebuild's scan: a reader thread, chunks built by SQLite, a row-by-row fallback."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import desktop_app.store.event_feed as event_feed
from desktop_app.application.ports import EventRecord
from desktop_app.bootstrap import App
from tests.integration.read_side.support import dump_read_model


def scanned(app: App, after: int, chunk: int) -> list[list[EventRecord]]:
    assert app.read_model is not None
    with app.read_model.feed.scan_events(after_position=after, chunk=chunk) as scan:
        return list(scan)


def every_event(app: App, after: int = 0) -> list[EventRecord]:
    assert app.read_model is not None
    return app.read_model.feed.read_events(after_position=after, limit=1_000_000)


@pytest.mark.parametrize(("after", "chunk"), [(0, 1), (0, 7), (0, 50_000), (25, 4)])
def test_scan_gives_every_event_in_chunks(seeded: App, after: int, chunk: int) -> None:
    chunks = scanned(seeded, after, chunk)
    expected = every_event(seeded, after)
    assert [e for c in chunks for e in c] == expected
    assert all(0 < len(c) <= chunk for c in chunks)
    assert all(type(e) is EventRecord for c in chunks for e in c)


def test_nothing_after_the_head(seeded: App) -> None:
    head = every_event(seeded)[-1].position
    assert scanned(seeded, head, 10) == []


def test_undecodable_chunk_reads_on_row_by_row(
    seeded: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    decode = event_feed._decode_chunk

    def second_fails(texts: tuple[Any, ...]) -> list[EventRecord] | None:
        nonlocal calls
        calls += 1
        return None if calls == 2 else decode(texts)

    monkeypatch.setattr(event_feed, "_decode_chunk", second_fails)
    chunks = scanned(seeded, 0, 10)
    assert [e for c in chunks for e in c] == every_event(seeded)


def test_sql_error_reads_on_row_by_row(seeded: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_feed, "_SCAN_CHUNK", "SELECT no_such_function(?, ?)")
    assert [e for c in scanned(seeded, 0, 10) for e in c] == every_event(seeded)


def test_odd_stored_values_read_as_sqlite_gives_them(seeded: App) -> None:
    """A value JSON cannot carry (a BLOB) makes the chunk fall back; texts stay texts."""
    assert seeded.database is not None
    with seeded.database.raw() as con:
        con.execute("DROP TRIGGER IF EXISTS events_no_update")
        con.execute("UPDATE events SET recorded_at = CAST(recorded_at AS BLOB) WHERE position = 5")
        con.execute("UPDATE events SET stream_id = '12' WHERE position = 6")
    events = [e for c in scanned(seeded, 0, 4) for e in c]
    assert events == every_event(seeded)
    assert isinstance(events[4].recorded_at, bytes)
    assert events[5].stream_id == "12"


def test_leaving_early_stops_the_reader(seeded: App) -> None:
    assert seeded.read_model is not None and seeded.database is not None
    # Threads left by other tests in this process are not this test's business: compare.
    before = set(threading.enumerate())
    with seeded.read_model.feed.scan_events(after_position=0, chunk=1) as scan:
        first = next(iter(scan))
    assert len(first) == 1
    assert set(threading.enumerate()) - before == set()
    with seeded.database.raw() as con:  # the snapshot is over: a writer gets through
        con.execute("BEGIN IMMEDIATE")
        con.execute("CREATE TABLE scratch (x)")
        con.execute("COMMIT")


def test_rebuild_matches_the_incremental_read_model(seeded: App, db_path: Path) -> None:
    assert seeded.projector is not None
    before = dump_read_model(db_path)
    assert seeded.projector.rebuild() > 0
    assert seeded.projector.status().last_error is None
    assert dump_read_model(db_path) == before
