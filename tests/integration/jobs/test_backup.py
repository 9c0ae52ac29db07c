"""R25: online backups while another process writes; retention; restore drill; file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from desktop_app.bootstrap import App
from desktop_app.store.backup import (
    BackupError,
    DatabaseInUseError,
    check_backup,
    create_backup,
    list_backups,
    parse_backup_name,
    prune_backups,
    restore,
)
from desktop_app.store.schema import APPEND_ONLY_TRIGGERS

from .support import Writer, change_price, event_rows, hash_at, open_app


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_while_another_process_writes(app: App, product: str, db: Path) -> None:
    folder = db.parent / "backups"
    writer = Writer(db, product)
    try:
        writer.wait_written(20)
        taken = []
        for _ in range(5):
            writer.wait_written(10)
            taken.append(create_backup(db, folder, keep=3))
        live_during = writer.last_position
        # Wait for one more commit (not the luck of one landing before the stop).
        writer.wait_written(1)
    finally:
        last = writer.stop()
    assert last > live_during  # the writer kept going after the last backup

    kept = list_backups(folder)
    assert [b.path for b in kept] == [b.path for b in reversed(taken[-3:])]  # newest first
    assert not any(b.path.exists() for b in taken[:2])  # retention deleted the oldest two
    assert _mode(folder) == 0o700
    heads = []
    for backup in kept:
        assert _mode(backup.path) == 0o600
        check = check_backup(backup.path)
        assert check.integrity == "ok"
        assert check.ok, check.problem
        assert check.chain is not None
        chain = check.chain
        assert 20 <= chain.head_position <= last
        # Its chain is a prefix of the live one: the same hash at its head position.
        assert hash_at(db, chain.head_position) == chain.head_hash
        heads.append(chain.head_position)
        # Self-contained: no -wal/-journal left beside a backup.
        assert not Path(f"{backup.path}-wal").exists()
    assert heads == sorted(heads, reverse=True)
    # Each backup has its anchor beside it (R28); retention removed those of the deleted ones.
    expected = [b.path.name for b in kept] + [b.path.name + ".anchor.json" for b in kept]
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


def test_retention_touches_only_backup_files(tmp_path: Path, app: App, product: str) -> None:
    db = Path(app.info.location)
    folder = tmp_path / "elsewhere" / "bk"
    others = ["notes.txt", "orders-final.sqlite3", "orders-20240101-000000.sqlite3.bak"]
    folder.mkdir(parents=True)
    for name in others:
        (folder / name).write_text("keep me")
    for i in range(4):
        change_price(app, product, 300 + i)
        create_backup(db, folder)
    backups = list_backups(folder)
    assert len(backups) == 4
    assert len({b.path.name for b in backups}) == 4  # same-second backups get a sequence
    deleted = prune_backups(folder, 2)
    assert len(deleted) == 2
    assert [b.path for b in list_backups(folder)] == [b.path for b in backups[:2]]
    for name in others:
        assert (folder / name).read_text() == "keep me"
    with pytest.raises(BackupError):
        prune_backups(folder, 0)
    assert parse_backup_name("orders-20240229-235959.sqlite3") is not None
    assert parse_backup_name("orders-20240230-000000.sqlite3") is None


def test_restore_drill(db: Path) -> None:
    app = open_app(db)
    try:
        from .support import add_product

        product = add_product(app)
        for i in range(30):
            change_price(app, product, 200 + i)
        backup = create_backup(db, db.parent / "backups", keep=5)
        for i in range(10):
            change_price(app, product, 500 + i)  # written after the backup
        with pytest.raises(DatabaseInUseError):
            restore(backup.path, db)  # the app still has the file open
    finally:
        app.close()
    live_before = event_rows(db)
    assert len(live_before) == 41

    result = restore(backup.path, db)

    assert result.previous is not None
    assert result.previous.name.startswith("orders.sqlite3.before-restore-")
    assert event_rows(result.previous) == live_before  # the replaced file is kept intact
    assert _mode(db) == 0o600
    assert event_rows(db) == event_rows(backup.path)
    restored = open_app(db)
    try:
        verify = restored.events.verify()
        assert verify.ok
        assert verify.head_position == 31
        assert restored.projector is not None
        restored.projector.run_once()
        assert restored.projector.status().checkpoint == 31
        change_price(restored, product, 999)  # the restored file is writable again
        assert restored.events.verify().ok
    finally:
        restored.close()


def test_restore_refuses_a_bad_backup(tmp_path: Path, app: App, product: str, db: Path) -> None:
    change_price(app, product, 321)
    backup = create_backup(db, tmp_path / "bk")
    bad = tmp_path / "bk" / "orders-20200101-000000.sqlite3"
    data = bytearray(backup.path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = os.urandom(len(data) - page)  # every page after the schema page is garbage
    bad.write_bytes(bytes(data))
    target = tmp_path / "target.sqlite3"
    with pytest.raises(BackupError):
        restore(bad, target)
    assert not target.exists()
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError):
        restore(garbage, target)
    # A tampered chain: integrity is fine but the hash chain is not.
    tampered = tmp_path / "tampered.sqlite3"
    import sqlite3

    src = sqlite3.connect(backup.path)
    dst = sqlite3.connect(tampered)
    src.backup(dst)
    src.close()
    dst.execute("DROP TRIGGER events_no_update")
    dst.execute("UPDATE events SET payload = replace(payload, '3.21', '9.99')")
    dst.execute(APPEND_ONLY_TRIGGERS[0])  # put back exactly: only the chain is wrong
    dst.commit()
    dst.close()
    check = check_backup(tampered)
    assert check.integrity == "ok" and not check.ok
    with pytest.raises(BackupError, match="hash chain"):
        restore(tampered, target)
    assert not target.exists()
    # Into a new location it simply appears (nothing to keep).
    result = restore(backup.path, target)
    assert result.previous is None and event_rows(target) == event_rows(backup.path)


def test_no_scheduled_backups_where_they_cannot_be_written(tmp_path: Path, db: Path) -> None:
    """A backup folder that cannot be created (here: below a plain file) switches the
    scheduled backups off instead of failing every interval; the other jobs still run."""
    from desktop_app.jobs import BACKUP_JOB, PROJECTOR_JOB, JobsConfig, build_jobs

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = JobsConfig(backup_interval_seconds=60.0)
    blocked = open_app(db, backup_dir=blocker / "backups")
    try:
        jobs = build_jobs(blocked, config)
        with jobs:
            assert BACKUP_JOB not in jobs.job_ids() and PROJECTOR_JOB in jobs.job_ids()
    finally:
        blocked.close()
    usable = open_app(db, backup_dir=tmp_path / "new" / "backups")
    try:
        jobs = build_jobs(usable, config)
        with jobs:
            assert BACKUP_JOB in jobs.job_ids()
    finally:
        usable.close()
