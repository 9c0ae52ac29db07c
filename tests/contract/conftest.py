"""One contract suite for every store: each test runs against SQLite (real file) and memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop_app.application.ports import EventStore, SnapshotStore
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore, SqliteSnapshotStore
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore
from tests.fixtures.store_helpers import StepClock


@dataclass
class Stores:
    """The stores under test plus the test-only hooks the contract needs."""

    kind: str
    events: EventStore
    snapshots: SnapshotStore
    clock: StepClock
    corrupt_snapshot: Callable[[str, int], None]


@pytest.fixture(params=["sqlite", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    clock = StepClock()
    if request.param == "memory":
        snaps = InMemorySnapshotStore(clock=clock)
        yield Stores(
            "memory",
            InMemoryEventStore(clock=clock),
            snaps,
            clock,
            lambda s, v: snaps._corrupt_snapshot(s, v),
        )
        return
    path = tmp_path / "data" / "orders.sqlite3"
    db = open_database(path)

    def corrupt(stream_id: str, version: int) -> None:
        con = sqlite3.connect(path)
        with con:
            con.execute(
                "UPDATE snapshots SET state = substr(state, 1, length(state) - 1) || 'X' "
                "WHERE stream_id = ? AND version = ?",
                (stream_id, version),
            )
        con.close()

    yield Stores(
        "sqlite",
        SqliteEventStore(db, clock=clock),
        SqliteSnapshotStore(db, clock=clock),
        clock,
        corrupt,
    )
    db.close()
