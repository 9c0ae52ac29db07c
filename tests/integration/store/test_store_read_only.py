"""R23: a read-only file, folder or media opens read-only; reads, verify and digests work;
writes raise ``StoreReadOnlyError``. Root ignores file modes, so the checks run in a
subprocess that drops to uid 65534 when the tests run as root."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.application.ports import Snapshot, StoreReadOnlyError
from desktop_app.store import engine as engine_mod
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore, SqliteSnapshotStore
from tests.fixtures import unprivileged
from tests.fixtures.store_helpers import events
from tests.fixtures.unprivileged import IS_ROOT, NOBODY, own

ROOT = Path(__file__).resolve().parents[3]


def _populate(path: Path) -> None:
    db = open_database(path)
    store = SqliteEventStore(db)
    store.append("order-1", 0, events(3))
    SqliteSnapshotStore(db, key_dir=path.parent.parent / "owner-keys").save_snapshot(
        Snapshot(stream_id="order-1", aggregate_type="Order", version=2, schema_version=1, state={})
    )
    db.close()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the unprivileged user can reach."""
    with unprivileged.shared_dir() as base:
        yield base


def _probe(path: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.readonly_probe", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    if IS_ROOT:
        assert data["uid"] == NOBODY
    return data


def _assert_read_only_but_usable(data: dict[str, object], reason_word: str) -> None:
    assert "open_error" not in data, data.get("open_error")
    assert data["read_only"] is True
    assert reason_word in str(data["reason"]), data["reason"]
    assert data["head"] == 3 and data["stream"] == [1, 2, 3]
    assert data["verify_ok"] is True and data["digest_ok"] is True
    # The probe plays another account (its own, empty key folder): the owner's sealed snapshot
    # is readable but never trusted there (R26); the order is replayed instead.
    assert data["snapshot"] is None
    for name in ("append", "next_number", "snapshot"):
        err = str(data[f"{name}_error"])
        assert err.startswith("StoreReadOnlyError"), (name, err)
        assert "cannot be saved" in err
    assert data["unchanged"] is True
    pragmas = data["pragmas"]
    assert isinstance(pragmas, dict)
    assert pragmas["foreign_keys"] is True and pragmas["busy_timeout"] == 5000
    assert pragmas["synchronous"] == "FULL"


def _owned_database(shared_dir: Path) -> tuple[Path, Path]:
    """A populated database in ``data/`` under ``shared_dir``, owned by the probe's user."""
    folder = shared_dir / "data"
    folder.mkdir(mode=0o700)
    path = folder / "orders.sqlite3"
    _populate(path)
    for p in [folder, *folder.iterdir()]:
        own(p)
    return folder, path


def test_r23_read_only_file(shared_dir: Path) -> None:
    _folder, path = _owned_database(shared_dir)
    os.chmod(path, 0o400)
    _assert_read_only_but_usable(_probe(path), "file is read-only")


def test_r23_read_only_file_made_writable_again_takes_writes(shared_dir: Path) -> None:
    """The read-only session leaves -wal/-shm with the file's read-only mode behind; once the
    owner makes the file writable again, writes must work (not 'readonly database')."""
    folder, path = _owned_database(shared_dir)
    os.chmod(path, 0o400)
    _assert_read_only_but_usable(_probe(path), "file is read-only")
    left = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p != path}
    assert left.get("orders.sqlite3-shm", 0o600) & 0o200 == 0, left  # what SQLite leaves
    os.chmod(path, 0o600)
    data = _probe(path)
    assert "open_error" not in data, data.get("open_error")
    assert data["read_only"] is False, data["reason"]
    assert data["append_error"] is None and data["snapshot_error"] is None, data
    assert data["unchanged"] is False


@pytest.mark.skipif(not IS_ROOT, reason="needs a second user to own the leftover file")
def test_r23_leftover_read_only_shm_of_another_user_opens_read_only(shared_dir: Path) -> None:
    _folder, path = _owned_database(shared_dir)
    shm = path.with_name(path.name + "-shm")
    shm.write_bytes(b"")
    os.chmod(shm, 0o444)  # owned by root: the probe's user cannot change it
    data = _probe(path)
    assert data["read_only"] is True
    assert "orders.sqlite3-shm next to the database is read-only" in str(data["reason"])
    assert str(data["append_error"]).startswith("StoreReadOnlyError")
    assert data["unchanged"] is True


def test_r23_read_only_folder(shared_dir: Path) -> None:
    folder, path = _owned_database(shared_dir)
    before = sorted(p.name for p in folder.iterdir())
    os.chmod(folder, 0o500)
    _assert_read_only_but_usable(_probe(path), "folder")
    assert sorted(p.name for p in folder.iterdir()) == before


def test_r23_read_only_media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "orders.sqlite3"
    _populate(path)
    monkeypatch.setattr(engine_mod, "_media_read_only", lambda folder: True)
    db = open_database(path)
    assert db.read_only and "media" in (db.read_only_reason or "")
    store = SqliteEventStore(db)
    assert store.head_position() == 3 and store.verify().ok
    with pytest.raises(StoreReadOnlyError):
        store.append("order-1", 3, events(1))
    db.close()
    assert not (tmp_path / "orders.sqlite3-wal").exists()


def test_r23_read_only_on_request(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    _populate(path)
    db = open_database(path, read_only=True)
    assert db.info.read_only and "requested" in (db.info.read_only_reason or "")
    store = SqliteEventStore(db)
    assert [e.version for e in store.read_stream("order-1")] == [1, 2, 3]
    with pytest.raises(StoreReadOnlyError):
        store.append("order-1", 3, events(1))
    with pytest.raises(StoreReadOnlyError):
        SqliteSnapshotStore(db).save_snapshot(
            Snapshot(stream_id="o", aggregate_type="O", version=1, schema_version=1, state={})
        )
    db.close()
