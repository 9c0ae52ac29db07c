"""Engine rules: pragmas (R3), file safety, BEGIN IMMEDIATE (R8), opening rules (R21, R24)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from desktop_app.application.ports import (
    StoreBusyError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from desktop_app.store import engine as engine_mod
from desktop_app.store.engine import DatabaseOpenError, open_database, translate_error
from desktop_app.store.event_store import SqliteEventStore
from desktop_app.store.schema import APPLICATION_ID, SCHEMA_VERSION
from tests.fixtures.store_helpers import StepClock, events

EXPECTED_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "FULL",
    "foreign_keys": True,
    "busy_timeout": 5000,
    "journal_size_limit": 64 * 1024 * 1024,
    # At FULL the WAL is checkpointed every 500 pages (engine.WAL_AUTOCHECKPOINT_PAGES).
    "wal_autocheckpoint": 500,
    "isolation_level": None,
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def _make_db(path: Path, n: int = 30) -> None:
    db = open_database(path)
    store = SqliteEventStore(db, clock=StepClock())
    for k in range(n):
        store.append(f"order-{k}", 0, events(3, text="x" * 200))
    db.close()


# ---------------------------------------------------------------------------- R3


def test_r3_every_connection_has_the_pragmas(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.sqlite3")
    assert isinstance(db.engine.pool, QueuePool)
    report = db.pragma_report()
    assert {k: report[k] for k in EXPECTED_PRAGMAS} == EXPECTED_PRAGMAS
    assert report["raw_connections"] == EXPECTED_PRAGMAS  # a hot-path checkout of the pool
    assert report["pool"] == "QueuePool"
    # Several raw hot-path connections at once (as threads would hold them).
    held = [db.acquire() for _ in range(3)]
    try:
        for raw in held:
            assert engine_mod._read_pragmas(raw) == EXPECTED_PRAGMAS
    finally:
        for raw in held:
            db.release(raw)
    # Several pooled connections at once (as threads would use them): each is configured.
    conns = [db.engine.raw_connection() for _ in range(4)]
    try:
        for c in conns:
            raw = c.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            assert engine_mod._read_pragmas(raw) == EXPECTED_PRAGMAS
    finally:
        for c in conns:
            c.close()
    # SQLAlchemy connections too.
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.close()


def test_raw_connections_are_checkouts_of_the_one_pool(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.sqlite3")
    pool = db.engine.pool
    assert isinstance(pool, QueuePool)
    with db.raw() as con:
        # The hot path's connection is one of the pool's own (no second pool beside it).
        assert pool.checkedout() >= 1
        assert engine_mod._read_pragmas(con) == EXPECTED_PRAGMAS
        with db.raw() as nested:  # a nested use on the same thread: another checkout
            assert nested is not con
            assert pool.checkedout() >= 2
    before = pool.checkedout()

    def use() -> None:
        with db.raw() as con:
            con.execute("SELECT 1")

    # Many short-lived threads: each one's held checkout goes back once the thread ended.
    for _ in range(30):
        worker = threading.Thread(target=use)
        worker.start()
        worker.join()
    with db.raw() as con:
        con.execute("SELECT 1")
    assert pool.checkedout() <= before + 2
    db.close()
    assert pool.checkedout() == 0


def test_r3_normal_sync_and_custom_timeout(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.sqlite3", synchronous="NORMAL", busy_timeout_ms=1234)
    report = db.pragma_report()
    assert report["synchronous"] == "NORMAL" and report["busy_timeout"] == 1234
    assert report["journal_mode"] == "wal" and report["foreign_keys"] is True
    # At NORMAL commits do not sync: fewer, longer checkpoints (engine.WAL_AUTOCHECKPOINT_PAGES).
    assert report["wal_autocheckpoint"] == 3500
    assert report["raw_connections"]["wal_autocheckpoint"] == 3500  # type: ignore[index]
    db.close()


def test_r3_read_only_engine_reports_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    _make_db(path, 1)
    db = open_database(path, read_only=True)
    report = db.pragma_report()
    assert report["read_only"] is True
    assert report["synchronous"] == "FULL" and report["foreign_keys"] is True
    assert report["busy_timeout"] == 5000 and report["journal_mode"] == "wal"
    db.close()


# ---------------------------------------------------------------------------- files


def test_new_file_is_0600_in_a_0700_folder_and_stamped(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "orders.sqlite3"
    db = open_database(path)
    db.close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for sib in path.parent.iterdir():
        assert stat.S_IMODE(sib.stat().st_mode) & 0o077 == 0, sib
    head = path.read_bytes()[:100]
    assert int.from_bytes(head[68:72], "big") == APPLICATION_ID
    assert int.from_bytes(head[60:64], "big") == SCHEMA_VERSION
    con = sqlite3.connect(path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    con.close()
    assert {"events", "commands", "snapshots", "sequences", "events_no_update"} <= names


def test_create_false_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatabaseOpenError) as info:
        open_database(tmp_path / "missing.sqlite3", create=False)
    assert info.value.kind == "not_found"
    assert not (tmp_path / "missing.sqlite3").exists()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    _make_db(path, 2)
    db = open_database(path)
    assert SqliteEventStore(db).head_position() == 6
    assert not db.read_only and db.info.schema_version == SCHEMA_VERSION
    db.close()


def test_new_file_has_small_pages_and_an_existing_file_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new event file is made with EVENT_PAGE_SIZE pages (a commit writes whole pages);
    a file made with other pages keeps them when opened, and works."""
    assert engine_mod.EVENT_PAGE_SIZE == 2048
    fresh = tmp_path / "fresh.sqlite3"
    _make_db(fresh, 2)
    assert int.from_bytes(fresh.read_bytes()[16:18], "big") == 2048
    older = tmp_path / "older.sqlite3"
    with monkeypatch.context() as patch:
        patch.setattr(engine_mod, "EVENT_PAGE_SIZE", 4096)
        _make_db(older, 2)
    assert int.from_bytes(older.read_bytes()[16:18], "big") == 4096
    db = open_database(older)
    try:
        store = SqliteEventStore(db)
        store.append("order-new", 0, events(2, text="y" * 3000))  # overflow pages too
        with db.raw() as con:
            assert con.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.head_position() == 8
        assert store.verify().ok
    finally:
        db.close()
    db = open_database(fresh)
    try:
        store = SqliteEventStore(db)
        store.append("order-big", 0, events(2, text="z" * 5000))  # rows above a page
        assert [e.version for e in store.read_stream("order-big")] == [1, 2]
        assert store.verify().ok
    finally:
        db.close()


def test_read_and_write_helpers_use_begin_and_begin_immediate(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.sqlite3")
    seen: list[str] = []
    for c in [db.engine.raw_connection() for _ in range(1)]:
        c.close()

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(lambda s: seen.append(s.strip().upper()))

    fairy = db.engine.raw_connection()
    raw = fairy.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    trace(raw)
    fairy.close()
    with db.write() as conn:
        conn.execute(text("INSERT INTO sequences (name, value) VALUES ('x', 1)"))
    with db.read() as conn:
        assert conn.execute(text("SELECT value FROM sequences")).scalar() == 1
    assert "BEGIN IMMEDIATE" in seen and "BEGIN" in seen
    assert seen.index("BEGIN IMMEDIATE") < seen.index("BEGIN")
    db.close()


# ---------------------------------------------------------------------------- R8 busy


PATIENT_MS = 240_000
"""A busy timeout far longer than any lock a test holds on purpose."""


class _Holder(threading.Thread):
    """Holds the write lock (``BEGIN IMMEDIATE`` on its own connection) from ``locked`` until
    ``release`` is set: the test decides when the lock goes, not a sleep."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.locked = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            self.locked.set()
            self.release.wait(120)
            con.execute("COMMIT")
        finally:
            con.close()

    def __enter__(self) -> _Holder:
        self.start()
        assert self.locked.wait(60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.join(60)


def test_r8_write_waits_for_a_short_lock(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    db = open_database(path, busy_timeout_ms=PATIENT_MS)
    store = SqliteEventStore(db)
    errors: list[BaseException] = []

    def append() -> None:
        try:
            store.append("s", 0, events(2))
        except BaseException as exc:
            errors.append(exc)

    with _Holder(path) as holder:
        writer = threading.Thread(target=append)
        writer.start()
        # While the lock is held the append cannot finish, however long we look (a slow
        # machine only makes the look shorter than the wait).
        writer.join(0.5)
        assert writer.is_alive() and not errors
        holder.release.set()
        writer.join(60)
    assert not writer.is_alive() and errors == []
    assert store.stream_version("s") == 2
    db.close()


def test_r8_long_lock_gives_busy_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    db = open_database(path, busy_timeout_ms=200)
    store = SqliteEventStore(db)
    with _Holder(path):  # held until both attempts gave up
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as info:
            store.append("s", 0, events(2))
        assert time.monotonic() - started >= 0.15  # it did wait for the lock first
        assert "busy" in str(info.value).lower()
        with pytest.raises(StoreBusyError):
            store.next_number("orders")
    assert store.head_position() == 0
    store.append("s", 0, events(1))  # the connection is usable again
    db.close()


# ---------------------------------------------------------------------------- translation


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (sqlite3.OperationalError("database is locked"), StoreBusyError),
        (sqlite3.OperationalError("database or disk is full"), StoreUnavailableError),
        (sqlite3.OperationalError("disk I/O error"), StoreUnavailableError),
        (sqlite3.DatabaseError("database disk image is malformed"), StoreUnavailableError),
        (sqlite3.OperationalError("attempt to write a readonly database"), StoreReadOnlyError),
    ],
)
def test_driver_errors_are_translated(exc: sqlite3.Error, kind: type[StoreError]) -> None:
    translated = translate_error(exc)
    assert type(translated) is kind
    assert "sqlite" not in str(translated).lower() or kind is StoreUnavailableError


def test_disk_full_becomes_unavailable(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.sqlite3")
    store = SqliteEventStore(db)
    store.append("s", 0, events(1))
    with db.raw() as con:
        pages = con.execute("PRAGMA page_count").fetchone()[0]
    # max_page_count makes SQLite report SQLITE_FULL exactly like a full disk. It is per
    # connection; the pool holds one connection here, so the append reuses it.
    with db.raw() as con:
        con.execute(f"PRAGMA max_page_count = {pages}")
    try:
        with pytest.raises(StoreUnavailableError) as info:
            store.append("s", 1, events(400, text="y" * 500))
        assert "full" in str(info.value).lower()
    finally:
        with db.raw() as con:
            con.execute("PRAGMA max_page_count = 1073741823")
    assert store.stream_version("s") == 1
    assert store.verify().ok
    db.close()


def test_triggers_are_reported_as_store_errors(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.sqlite3")
    SqliteEventStore(db).append("s", 0, events(1))
    with pytest.raises(StoreError) as info, db.write() as conn:
        conn.execute(text("DELETE FROM events"))
    assert "never be changed" in str(info.value)
    db.close()


# ---------------------------------------------------------------------------- R21


def _corrupt_variants(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = tmp_path / "good.sqlite3"
    _make_db(good)
    data = good.read_bytes()
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, content: bytes, kind: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        p = folder / "orders.sqlite3"
        p.write_bytes(content)
        out[name] = (p, kind)

    put("empty", b"", "empty")
    put("random", os.urandom(8192), "not_sqlite")
    put("text", b"name,qty\nwidget,3\n" * 50, "not_sqlite")
    put("short_header", data[:60], "corrupt")
    put("truncated_mid_page", data[: len(data) // 2 + 100], "corrupt")
    put("truncated_pages", data[: (len(data) // 4096 // 2) * 4096], "corrupt")
    put("bad_page_size", data[:16] + b"\x03\x00" + data[18:], "corrupt")
    damaged = bytearray(data)
    damaged[100:4096] = os.urandom(3996)  # the schema b-tree of page 1
    put("garbage_schema", bytes(damaged), "corrupt")
    foreign = tmp_path / "foreign-src.sqlite3"
    con = sqlite3.connect(foreign)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.execute("INSERT INTO contacts VALUES ('x')")
    con.commit()
    con.close()
    put("foreign", foreign.read_bytes(), "foreign")
    other_app = bytearray(data)
    other_app[68:72] = (0x12345678).to_bytes(4, "big")
    put("other_app_id", bytes(other_app), "foreign")
    return out


def test_r21_bad_files_are_refused_and_never_written(tmp_path: Path) -> None:
    for name, (path, kind) in _corrupt_variants(tmp_path).items():
        before = _digest(path)
        mtime = path.stat().st_mtime_ns
        siblings = _siblings(path)
        with pytest.raises(DatabaseOpenError) as info:
            open_database(path)
        err = info.value
        assert err.kind == kind, (name, err.kind, str(err))
        assert isinstance(err, StoreUnavailableError)
        msg = str(err)
        assert "backup" in msg.lower() and "not changed" in msg, msg
        assert "Traceback" not in msg
        assert _digest(path) == before, name
        assert path.stat().st_mtime_ns == mtime, name
        assert _siblings(path) == siblings, (name, _siblings(path) - siblings)
        # read-only opening is refused the same way
        with pytest.raises(DatabaseOpenError):
            open_database(path, read_only=True)
        assert _digest(path) == before


def test_r21_runtime_corruption_is_translated(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    _make_db(path, 60)
    data = bytearray(path.read_bytes())
    for page in range(3, len(data) // 4096):
        data[page * 4096 + 8 : page * 4096 + 4096] = b"\xff" * (4096 - 8)
    path.write_bytes(bytes(data))
    try:
        db = open_database(path)
    except DatabaseOpenError as exc:
        assert exc.kind == "corrupt"
        return
    with pytest.raises(StoreUnavailableError) as info:
        SqliteEventStore(db).verify()
    assert "damaged" in str(info.value) or "problem" in str(info.value)
    db.close()


# ---------------------------------------------------------------------------- R24


def test_r24_newer_file_opens_read_only(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    _make_db(path, 2)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = _digest(path)
    db = open_database(path)
    assert db.read_only and db.info.read_only
    assert "newer version of Order Desk" in (db.info.read_only_reason or "")
    store = SqliteEventStore(db)
    assert store.head_position() == 6 and store.verify().ok
    assert len(store.read_stream("order-0")) == 3
    with pytest.raises(StoreReadOnlyError) as info:
        store.append("s", 0, events(1))
    assert "newer version" in str(info.value)
    with pytest.raises(StoreReadOnlyError):
        store.next_number("x")
    with pytest.raises(StoreReadOnlyError), db.write():
        pass
    db.close()
    assert _digest(path) == before


def _make_older(path: Path, version: int = 0) -> None:
    _make_db(path, 2)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {version}")
    con.execute("DROP TABLE sequences")  # pretend version 0 had no counters yet
    con.close()


def test_r24_older_file_is_upgraded_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    _make_older(path)
    db = open_database(path)
    assert not db.read_only and db.info.schema_version == SCHEMA_VERSION
    store = SqliteEventStore(db)
    assert store.next_number("orders") == 1  # the migrated table exists
    assert store.head_position() == 6 and store.verify().ok
    db.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and "v0-before-upgrade" in backups[0].name
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    bcon = sqlite3.connect(backups[0])
    assert bcon.execute("PRAGMA user_version").fetchone()[0] == 0
    assert bcon.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert bcon.execute("SELECT count(*) FROM events").fetchone()[0] == 6
    bcon.close()


def test_r24_failed_upgrade_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.sqlite3"
    _make_older(path)

    def half_then_fail(conn: object) -> None:
        engine_mod.create_schema(conn)  # type: ignore[arg-type]
        raise RuntimeError("power cut in the middle of the upgrade")

    monkeypatch.setitem(engine_mod.MIGRATIONS, 1, half_then_fail)
    with pytest.raises(RuntimeError):
        open_database(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 0
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sequences" not in names  # the half-done step was rolled back
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 6
    con.close()
    assert len(list((tmp_path / "backups").iterdir())) == 1  # backup taken first
    monkeypatch.undo()
    db = open_database(path)  # a later attempt succeeds
    assert db.info.schema_version == SCHEMA_VERSION
    db.close()
