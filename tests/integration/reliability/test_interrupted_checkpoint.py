"""R31: a checkpoint cut short by a full disk or a kill leaves a healthy file.

The state is built for real: a WAL-mode database written by the store, copied with its -wal
while still open (what a kill leaves), then the checkpoint is replayed the way SQLite runs it
-- committed frames copied into the main file in page order -- up to the point where the file
would have had to grow, where the full disk stopped it. The main file's header then counts
more pages than the file holds while every page is still in the -wal. SQLite reads that file
correctly; the open-time size check used to call it "damaged (truncated)" and advise a restore.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from desktop_app.application.ports import Digest
from desktop_app.store.engine import DatabaseOpenError, open_database
from desktop_app.store.event_store import SqliteEventStore
from tests.fixtures.store_helpers import StepClock, events

WAL_HEADER = 32
FRAME_HEADER = 24


def _committed_frames(wal: bytes) -> tuple[int, dict[int, bytes], int]:
    """(page size, newest committed image of each page, database pages after the last commit)."""
    page_size, _seq, salt1, salt2 = struct.unpack(">IIII", wal[8:24])
    pages: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    db_pages = 0
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page_no, commit_size, s1, s2 = struct.unpack(">IIII", wal[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break
        start = offset + FRAME_HEADER
        pending[page_no] = wal[start : start + page_size]
        if commit_size:
            pages.update(pending)
            pending = {}
            db_pages = commit_size
        offset = start + page_size
    return page_size, pages, db_pages


def _interrupted_checkpoint(tmp_path: Path, partial_page: bool) -> tuple[Path, Digest, int]:
    """A file as a checkpoint cut short at the end of the main file leaves it."""
    live = tmp_path / "live" / "orders.sqlite3"
    db = open_database(live)
    try:
        store = SqliteEventStore(db, clock=StepClock())
        for k in range(15):
            store.append(f"order-{k}", 0, events(3, text="x" * 300))
        db.checkpoint("TRUNCATE")  # the main file holds everything so far; the -wal is empty
        for k in range(15, 60):
            store.append(f"order-{k}", 0, events(3, text="y" * 300))
        digest = store.digest()
        crashed = tmp_path / "crashed" / "orders.sqlite3"
        crashed.parent.mkdir(mode=0o700)
        # Copied while open: the state a kill leaves (main file + -wal, no -shm).
        shutil.copyfile(live, crashed)
        shutil.copyfile(
            live.with_name("orders.sqlite3-wal"), crashed.with_name("orders.sqlite3-wal")
        )
    finally:
        db.close()
    page_size, frames, db_pages = _committed_frames(
        crashed.with_name("orders.sqlite3-wal").read_bytes()
    )
    file_pages = crashed.stat().st_size // page_size
    assert db_pages > file_pages + 1, "the writes after the checkpoint must grow the file"
    with crashed.open("r+b") as fh:
        for page_no in sorted(frames):  # SQLite's checkpoint writes in page order
            if page_no > file_pages:
                if partial_page:  # a short write at the end of the disk
                    fh.seek((page_no - 1) * page_size)
                    fh.write(frames[page_no][: page_size // 3])
                break
            fh.seek((page_no - 1) * page_size)
            fh.write(frames[page_no])
    head = crashed.read_bytes()[:100]
    header_pages = int.from_bytes(head[28:32], "big")
    # The state the old size check refused: a valid in-header page count beyond the file.
    assert head[24:28] == head[92:96]
    assert header_pages == db_pages and crashed.stat().st_size < header_pages * page_size
    return crashed, digest, header_pages * page_size


@pytest.mark.parametrize("partial_page", [False, True], ids=["whole-pages", "part-of-a-page"])
def test_r31_a_checkpoint_cut_short_opens_normally(tmp_path: Path, partial_page: bool) -> None:
    path, digest, full_size = _interrupted_checkpoint(tmp_path, partial_page)
    check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:  # SQLite's own judgement, before our code sees the file
        assert check.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    finally:
        check.close()

    db = open_database(path)  # used to raise DatabaseOpenError("… damaged (truncated) …")
    try:
        assert not db.read_only
        store = SqliteEventStore(db)
        assert store.head_position() == digest.head_position == 180
        assert store.check_digest(digest).ok  # every event is there, chain intact
        store.append("order-after", 0, events(1))
        db.checkpoint("TRUNCATE")  # with space back, the checkpoint completes
    finally:
        db.close()
    assert path.stat().st_size >= full_size
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 181
    finally:
        con.close()


def test_r31_the_interrupted_file_is_readable_read_only_too(tmp_path: Path) -> None:
    path, digest, _ = _interrupted_checkpoint(tmp_path, partial_page=False)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    db = open_database(path, read_only=True)
    try:
        store = SqliteEventStore(db)
        assert store.check_digest(digest).ok
    finally:
        db.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_r31_a_file_really_cut_short_is_still_called_damaged(tmp_path: Path) -> None:
    """Without the -wal holding the missing pages, SQLite's check fails: then, and only then,
    the file is damaged and a backup is the advice."""
    path, _, _ = _interrupted_checkpoint(tmp_path, partial_page=False)
    path.with_name("orders.sqlite3-wal").unlink()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatabaseOpenError) as info:
        open_database(path)
    assert info.value.kind == "corrupt" and "backup" in str(info.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
