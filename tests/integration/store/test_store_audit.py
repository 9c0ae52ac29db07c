"""Audit trail: append-only (R11), tamper detection (R12), digests (R13), clocks (R15),
snapshot rows skipped (R16 store side)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from desktop_app.application.ports import Digest, Snapshot, StoreError
from desktop_app.store.engine import Database, open_database
from desktop_app.store.event_store import SqliteEventStore, SqliteSnapshotStore
from desktop_app.store.hashing import GENESIS_HASH, row_hash
from desktop_app.store.records import snapshot_checksum
from tests.fixtures.store_helpers import StepClock, events

TS = "2024-05-01T09:00:03.000000Z"

SELECT_ALL = (
    "SELECT position, stream_id, version, event_id, type_name, schema_version, payload, "
    "metadata, recorded_at, prev_hash, hash FROM events ORDER BY position"
)
INSERT = (
    "INSERT INTO events (position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "orders.sqlite3")
    store = SqliteEventStore(database, clock=StepClock())
    # 10 events over 3 streams, interleaved.
    store.append("order-1", 0, events(3, user_text="first"))
    store.append("order-2", 0, events(2))
    store.append("order-1", 3, events(2))
    store.append("order-3", 0, events(3))
    yield database
    database.close()


def attacker(db: Database) -> sqlite3.Connection:
    """Raw access to the file with the append-only triggers dropped, as an attacker would."""
    con = sqlite3.connect(db.path, isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS events_no_update")
    con.execute("DROP TRIGGER IF EXISTS events_no_delete")
    return con


def rehash_from(con: sqlite3.Connection, position: int) -> None:
    """Recompute the chain from ``position`` onwards (a thorough attacker)."""
    rows = con.execute(SELECT_ALL).fetchall()
    prev = GENESIS_HASH
    for row in rows:
        if row[0] >= position:
            h = row_hash(prev, *row[:9])
            con.execute(
                "UPDATE events SET prev_hash = ?, hash = ? WHERE position = ?", (prev, h, row[0])
            )
            prev = h
        else:
            prev = row[10]


def verify(db: Database) -> tuple[bool, int | None, str]:
    result = SqliteEventStore(db).verify()
    return result.ok, result.first_bad_position, result.problem or ""


# ---------------------------------------------------------------------------- R11


def test_r11_update_and_delete_refused_by_the_database(db: Database) -> None:
    con = sqlite3.connect(db.path)
    for sql in (
        "UPDATE events SET payload = '{}' WHERE position = 2",
        "UPDATE events SET position = 99 WHERE position = 10",
        "DELETE FROM events WHERE position = 5",
        "DELETE FROM events",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()
    with pytest.raises(StoreError), db.write() as conn:
        conn.exec_driver_sql("UPDATE events SET type_name = 'x'")
    assert verify(db)[0]
    assert SqliteEventStore(db).head_position() == 10


# ---------------------------------------------------------------------------- R12


def test_r12_untampered_log_verifies(db: Database) -> None:
    assert verify(db) == (True, None, "")


def test_r12_flipped_payload_byte(db: Database) -> None:
    con = attacker(db)
    payload = con.execute("SELECT payload FROM events WHERE position = 4").fetchone()[0]
    con.execute("UPDATE events SET payload = ? WHERE position = 4", (payload.replace("0", "1"),))
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 4) and "hash mismatch" in problem


def test_r12_changed_user(db: Database) -> None:
    con = attacker(db)
    meta = json.loads(con.execute("SELECT metadata FROM events WHERE position = 6").fetchone()[0])
    meta["user"] = "mallory"
    con.execute(
        "UPDATE events SET metadata = ? WHERE position = 6",
        (json.dumps(meta, sort_keys=True, separators=(",", ":")),),
    )
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 6) and "hash mismatch" in problem


def test_r12_changed_timestamp(db: Database) -> None:
    con = attacker(db)
    con.execute("UPDATE events SET recorded_at = '2020-01-01T00:00:00.000000Z' WHERE position = 7")
    assert verify(db)[:2] == (False, 7)


def test_r12_same_instant_in_another_format_is_still_a_change_caught(db: Database) -> None:
    con = attacker(db)
    ts = con.execute("SELECT recorded_at FROM events WHERE position = 3").fetchone()[0]
    # The same instant spelled differently hashes the same (R14): nothing was really changed.
    other = datetime.fromisoformat(ts).astimezone(UTC).isoformat()
    con.execute("UPDATE events SET recorded_at = ? WHERE position = 3", (other,))
    assert verify(db)[0]
    con.execute("UPDATE events SET recorded_at = ? WHERE position = 3", (ts.replace(":0", ":1"),))
    assert verify(db)[:2] == (False, 3)


def test_r12_deleted_middle_event(db: Database) -> None:
    con = attacker(db)
    con.execute("DELETE FROM events WHERE position = 5")
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 5) and "missing" in problem


def test_r12_deleted_event_renumbered_and_rehashed_leaves_a_version_gap(db: Database) -> None:
    con = attacker(db)
    con.execute("DELETE FROM events WHERE position = 2")  # order-1 version 2
    for pos in range(3, 11):
        con.execute("UPDATE events SET position = ? WHERE position = ?", (pos - 1, pos))
    rehash_from(con, 2)
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 2) and "version gap" in problem


def test_r12_swapped_events(db: Database) -> None:
    con = attacker(db)
    rows = {r[0]: r for r in con.execute(SELECT_ALL)}
    con.execute("DELETE FROM events WHERE position IN (3, 8)")
    for new_pos, old in ((3, rows[8]), (8, rows[3])):
        con.execute(INSERT, (new_pos, *old[1:]))
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 3) and "hash mismatch" in problem


def test_r12_inserted_forged_event(db: Database) -> None:
    con = attacker(db)
    # Make room at position 4 and insert a forged, correctly hashed event there.
    for pos in range(10, 3, -1):
        con.execute("UPDATE events SET position = ? WHERE position = ?", (pos + 1, pos))
    prev = con.execute("SELECT hash FROM events WHERE position = 3").fetchone()[0]
    forged = (4, "order-9", 1, "forged", "OrderPlaced", 1, '{"n":1}', "{}", TS)
    con.execute(
        INSERT,
        (*forged, prev, row_hash(prev, *forged)),
    )
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 5) and "hash mismatch" in problem  # the event after it


def test_r12_forged_event_appended_at_the_end_with_a_bad_link(db: Database) -> None:
    con = attacker(db)
    forged = (11, "order-9", 1, "forged", "OrderPlaced", 1, '{"n":1}', "{}", TS)
    prev = "1" * 64
    con.execute(
        INSERT,
        (*forged, prev, row_hash(prev, *forged)),
    )
    ok, bad, problem = verify(db)
    assert (ok, bad) == (False, 11) and "broken link" in problem


def test_r12_limits_truncation_and_full_rehash_need_a_digest(db: Database) -> None:
    store = SqliteEventStore(db)
    saved = store.digest()
    con = attacker(db)
    # 1. A truncated tail leaves a perfectly valid chain ...
    con.execute("DELETE FROM events WHERE position > 8")
    assert verify(db)[0]
    # ... which only the saved digest exposes.
    result = store.check_digest(saved)
    assert not result.ok and "shorter" in (result.problem or "")
    # 2. Change an old event and recompute the whole chain: verify cannot see it ...
    con.execute("UPDATE events SET payload = '{\"i\":42}' WHERE position = 2")
    rehash_from(con, 2)
    assert verify(db)[0]
    mid = store.check_digest(saved)
    assert not mid.ok
    # 3. ... and with the tail re-grown to 10 events the digest still sees the rewrite.
    for version in (2, 3):
        prev = con.execute("SELECT hash FROM events ORDER BY position DESC LIMIT 1").fetchone()[0]
        row = (7 + version, "order-3", version, f"x{version}", "T", 1, "{}", "{}", TS)
        con.execute(
            INSERT,
            (*row, prev, row_hash(prev, *row)),
        )
    assert verify(db)[0]
    rewritten = store.check_digest(saved)
    assert not rewritten.ok and rewritten.first_bad_position == 10
    assert "rewritten" in (rewritten.problem or "")


# ---------------------------------------------------------------------------- R13


def _copy(db: Database, to: Path) -> Path:
    con = sqlite3.connect(db.path)
    dst = sqlite3.connect(to)
    con.backup(dst)
    dst.close()
    con.close()
    return to


def test_r13_digest_against_original_grown_truncated_rewritten(
    db: Database, tmp_path: Path
) -> None:
    store = SqliteEventStore(db)
    saved = store.digest()
    assert saved.head_position == 10 and saved.event_count == 10
    assert store.check_digest(saved).ok  # original

    store.append("order-4", 0, events(3))  # grown
    assert store.check_digest(saved).ok

    (tmp_path / "copies").mkdir()
    t_path = _copy(db, tmp_path / "copies" / "truncated.sqlite3")
    con = sqlite3.connect(t_path)
    con.execute("DROP TRIGGER events_no_delete")
    con.execute("DELETE FROM events WHERE position >= 7")
    con.commit()
    con.close()
    t_db = open_database(t_path)
    result = SqliteEventStore(t_db).check_digest(saved)
    assert not result.ok and result.first_bad_position == 7
    t_db.close()

    r_path = _copy(db, tmp_path / "copies" / "rewritten.sqlite3")
    con = sqlite3.connect(r_path, isolation_level=None)
    con.execute("DROP TRIGGER events_no_update")
    con.execute("UPDATE events SET payload = '{\"i\":7}' WHERE position = 1")
    rehash_from(con, 1)
    con.close()
    r_db = open_database(r_path)
    r_store = SqliteEventStore(r_db)
    assert r_store.verify().ok
    result = r_store.check_digest(saved)
    assert not result.ok and "rewritten" in (result.problem or "")
    r_db.close()


def test_r13_digest_survives_a_json_round_trip(db: Database) -> None:
    store = SqliteEventStore(db)
    d = store.digest()
    blob = json.dumps(
        {
            "head_position": d.head_position,
            "head_hash": d.head_hash,
            "event_count": d.event_count,
            "taken_at": d.taken_at.isoformat(),
        }
    )
    data = json.loads(blob)
    back = Digest(
        head_position=data["head_position"],
        head_hash=data["head_hash"],
        event_count=data["event_count"],
        taken_at=datetime.fromisoformat(data["taken_at"]),
    )
    assert store.check_digest(back).ok


# ---------------------------------------------------------------------------- R15


@pytest.mark.parametrize(
    "script",
    [
        "equal",
        "backwards",
        "skewed",
    ],
)
def test_r15_history_is_by_version_whatever_the_clock(tmp_path: Path, script: str) -> None:
    base = datetime(2024, 6, 1, 12, tzinfo=UTC)
    times = {
        "equal": [base] * 6,
        "backwards": [base - timedelta(minutes=k) for k in range(6)],
        "skewed": [base + timedelta(days=d) for d in (0, 365, -365, 3, -1, 0)],
    }[script]
    db = open_database(tmp_path / "c.sqlite3")
    store = SqliteEventStore(db, clock=StepClock(script=times))
    for k in range(6):
        store.append("order-1", k, events(1, k=k))
    history = store.read_stream("order-1")
    assert [e.version for e in history] == [1, 2, 3, 4, 5, 6]
    assert [e.payload["k"] for e in history] == [0, 1, 2, 3, 4, 5]
    assert [e.recorded_at for e in history] == times
    assert [e.position for e in store.read_all()] == [1, 2, 3, 4, 5, 6]
    assert store.verify().ok
    db.close()


def test_r15_clock_in_another_zone_is_stored_as_utc(tmp_path: Path) -> None:
    local = datetime(2024, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    db = open_database(tmp_path / "c.sqlite3")
    store = SqliteEventStore(db, clock=lambda: local)
    store.append("s", 0, events(1))
    got = store.read_stream("s")[0].recorded_at
    assert got == local and got.utcoffset() == timedelta(0) and got.hour == 12
    naive = SqliteEventStore(db, clock=lambda: datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        naive.append("s", 1, events(1))
    db.close()


# ---------------------------------------------------------------------------- R16


def test_r16_corrupt_and_foreign_snapshot_rows_are_skipped(tmp_path: Path) -> None:
    db = open_database(tmp_path / "s.sqlite3")
    ss = SqliteSnapshotStore(db, key_dir=tmp_path / "keys")
    es = SqliteEventStore(db)
    es.append("order-1", 0, events(50))
    es.append("order-2", 0, events(60))
    for v in (10, 20, 30, 40, 50):
        ss.save_snapshot(
            Snapshot(
                stream_id="order-1",
                aggregate_type="Order",
                version=v,
                schema_version=1,
                state={"v": v},
            )
        )
    ss.save_snapshot(
        Snapshot(
            stream_id="order-2",
            aggregate_type="Order",
            version=60,
            schema_version=1,
            state={"v": 60},
        )
    )
    con = sqlite3.connect(db.path)
    with con:
        # 50: state bytes damaged
        con.execute("UPDATE snapshots SET state = '{\"v\":5' WHERE version = 50")
        # 40: a row copied from another stream (valid checksum for order-2, not for order-1)
        row = con.execute("SELECT * FROM snapshots WHERE stream_id = 'order-2'").fetchone()
        con.execute("DELETE FROM snapshots WHERE stream_id = 'order-1' AND version = 40")
        con.execute(
            "INSERT INTO snapshots (stream_id, version, aggregate_type, schema_version, state, "
            "checksum, size_bytes, taken_at, seal) VALUES ('order-1', 40, ?, ?, ?, ?, ?, ?, ?)",
            row[2:],
        )
        # 30: valid checksum over a JSON text that is not an object
        state = "[1,2]"
        con.execute(
            "UPDATE snapshots SET state = ?, checksum = ? WHERE version = 30",
            (state, snapshot_checksum("order-1", 30, "Order", 1, state)),
        )
    con.close()
    latest = ss.latest_snapshot("order-1")
    assert latest is not None and latest.version == 20 and latest.state == {"v": 20}
    assert ss.get_snapshot("order-1", 50) is None
    assert ss.get_snapshot("order-1", 40) is None
    assert ss.get_snapshot("order-1", 30) is None
    valid = {i.version: i.valid for i in ss.list_snapshots("order-1")}
    assert valid == {50: False, 40: False, 30: False, 20: True, 10: True}
    db.close()
