"""One contract suite for every store: each test runs against SQLite (real file), memory and
a real PostgreSQL server (the throwaway cluster of tests/pg_cluster.py; skipped with the
reason where none can be started, never in CI: ORDER_DESK_REQUIRE_PG=1)."""

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


BACKENDS = ["sqlite", "memory", "postgres"]
"""Every store runs the same contract; "postgres" on the throwaway server (tests/pg_cluster.py)."""


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    clock = StepClock()
    if request.param == "postgres":
        # Looked up only for this parameter: the other two never start the cluster.
        yield from _postgres_stores(request.getfixturevalue("pg_url"), tmp_path, clock)
        return
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


def _postgres_stores(url: str, tmp_path: Path, clock: StepClock) -> Iterator[Stores]:
    import psycopg

    from desktop_app.store.postgres.database import init_postgres, open_postgres
    from desktop_app.store.postgres.event_store import PostgresEventStore, PostgresSnapshotStore

    init_postgres(url)
    db = open_postgres(url)
    other_db = open_postgres(url)  # another engine and pool, as another workstation

    def corrupt(stream_id: str, version: int) -> None:
        with psycopg.connect(url) as con:
            con.execute(
                "UPDATE snapshots SET state = left(state, -1) || 'X' "
                "WHERE stream_id = %s AND version = %s",
                (stream_id, version),
            )

    def forge(stream_id: str, version: int, state: str) -> None:
        with psycopg.connect(url) as con:
            row = con.execute(
                "SELECT aggregate_type, schema_version FROM snapshots "
                "WHERE stream_id = %s AND version = %s",
                (stream_id, version),
            ).fetchone()
            assert row is not None
            con.execute(
                "UPDATE snapshots SET state = %s, checksum = %s "
                "WHERE stream_id = %s AND version = %s",
                (
                    state,
                    snapshot_checksum(stream_id, version, row[0], row[1], state),
                    stream_id,
                    version,
                ),
            )

    try:
        yield Stores(
            "postgres",
            PostgresEventStore(db, clock=clock),
            PostgresSnapshotStore(db, clock=clock, key_dir=tmp_path / "keys"),
            clock,
            corrupt,
            forge,
            lambda: PostgresSnapshotStore(db, clock=clock, key_dir=tmp_path / "other-keys"),
            PostgresEventStore(other_db, clock=clock),
        )
    finally:
        other_db.close()
        db.close()
