"""``SqliteEventStore.verify``: one scan fed in small slices, progress every batch, the same
verdict wherever the first problem falls relative to the slices."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from desktop_app.store import event_store
from desktop_app.store.engine import Database, open_database
from desktop_app.store.event_store import SqliteEventStore
from tests.fixtures.store_helpers import StepClock, events

TOTAL = 50


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr(event_store, "VERIFY_FETCH", 3)
    monkeypatch.setattr(event_store, "VERIFY_BATCH", 10)
    database = open_database(tmp_path / "orders.sqlite3")
    store = SqliteEventStore(database, clock=StepClock())
    for k in range(TOTAL // 5):
        store.append(f"order-{k}", 0, events(5))
    yield database
    database.close()


def _verify(db: Database) -> tuple[bool, int, int | None, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    result = SqliteEventStore(db).verify(progress=lambda done, total: calls.append((done, total)))
    return result.ok, result.checked, result.first_bad_position, calls


def test_sound_log_reports_progress_per_batch(db: Database) -> None:
    ok, checked, bad, calls = _verify(db)
    assert (ok, checked, bad) == (True, TOTAL, None)
    assert calls[0] == (0, TOTAL) and calls[-1] == (TOTAL, TOTAL)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) >= TOTAL // 10
    assert all(b - a <= 10 + 2 for a, b in pairwise(done))


@pytest.mark.parametrize("position", [1, 2, 3, 4, 10, 11, 12, 31, TOTAL])
def test_altered_event_found_wherever_it_falls(db: Database, position: int) -> None:
    con = sqlite3.connect(db.path, isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS events_no_update")
    con.execute("UPDATE events SET payload = '{\"x\":1}' WHERE position = ?", (position,))
    con.close()
    ok, checked, bad, calls = _verify(db)
    assert (ok, checked, bad) == (False, position - 1, position)
    assert calls[-1] == (position - 1, TOTAL)


def test_empty_log(tmp_path: Path) -> None:
    database = open_database(tmp_path / "empty.sqlite3")
    try:
        ok, checked, bad, calls = _verify(database)
    finally:
        database.close()
    assert (ok, checked, bad) == (True, 0, None)
    assert calls == [(0, 0)]
