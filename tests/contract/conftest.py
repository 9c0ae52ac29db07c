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
from desktop_app.store.records import snapshot_checksum
from tests.fixtures.store_helpers import StepClock
from tests.fixtures.store_helpers import events as store_events


@dataclass
class Stores:
    """The stores under test plus the test-only hooks the contract needs."""

    kind: str
    events: EventStore
    snapshots: SnapshotStore
    clock: StepClock
    corrupt_snapshot: Callable[[str, int], None]
    forge_snapshot: Callable[[str, int, str], None]
    """Replace a snapshot's state and recompute its public checksum, as an attacker would."""
    keyless_snapshots: Callable[[], SnapshotStore]
    """Another snapshot store on the same data without this account's key."""
    other_writer: EventStore
    """Another writer on the same data, as another process would be (SQLite: its own
    database handle and connections; memory: the same store, as there is no other)."""

    def reach(self, stream_id: str, version: int) -> None:
        """Append events until ``stream_id`` has ``version`` (snapshots are of stored events)."""
        current = self.events.stream_version(stream_id)
        if current < version:
            self.events.append(stream_id, current, store_events(version - current))


@pytest.fixture(params=["sqlite", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    clock = StepClock()
    if request.param == "memory":
        mem_events = InMemoryEventStore(clock=clock)
        snaps = InMemorySnapshotStore(mem_events, clock=clock)

        def keyless() -> SnapshotStore:
            other = InMemorySnapshotStore(mem_events, clock=clock, keyless=True)
            other._rows = snaps._rows  # the same stored rows, seen without the key
            return other

        yield Stores(
            "memory",
            mem_events,
            snaps,
            clock,
            lambda s, v: snaps._corrupt_snapshot(s, v),
            lambda s, v, state: snaps._forge_snapshot(s, v, state),
            keyless,
            mem_events,
        )
        return
    path = tmp_path / "data" / "orders.sqlite3"
    db = open_database(path)
    other_db = open_database(path, create=False)

    def corrupt(stream_id: str, version: int) -> None:
        con = sqlite3.connect(path)
        with con:
            con.execute(
                "UPDATE snapshots SET state = substr(state, 1, length(state) - 1) || 'X' "
                "WHERE stream_id = ? AND version = ?",
                (stream_id, version),
            )
        con.close()

    def forge(stream_id: str, version: int, state: str) -> None:
        con = sqlite3.connect(path)
        with con:
            kind, schema = con.execute(
                "SELECT aggregate_type, schema_version FROM snapshots "
                "WHERE stream_id = ? AND version = ?",
                (stream_id, version),
            ).fetchone()
            con.execute(
                "UPDATE snapshots SET state = ?, checksum = ? WHERE stream_id = ? AND version = ?",
                (
                    state,
                    snapshot_checksum(stream_id, version, kind, schema, state),
                    stream_id,
                    version,
                ),
            )
        con.close()

    yield Stores(
        "sqlite",
        SqliteEventStore(db, clock=clock),
        SqliteSnapshotStore(db, clock=clock, key_dir=tmp_path / "keys"),
        clock,
        corrupt,
        forge,
        lambda: SqliteSnapshotStore(db, clock=clock, key_dir=tmp_path / "other-account-keys"),
        SqliteEventStore(other_db, clock=clock),
    )
    other_db.close()
    db.close()
