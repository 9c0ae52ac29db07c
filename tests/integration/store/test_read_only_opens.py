"""R32: read-only opens never change the file; backups and other accounts' files are
verifiable as they are; restored files end in WAL mode; a read-only database can be backed up
by an unprivileged user into a folder of theirs.

Root ignores file modes, so the permission cases run in a subprocess that drops to uid 65534.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.backup import create_backup, restore
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from tests.fixtures import unprivileged
from tests.fixtures.unprivileged import IS_ROOT, NOBODY, own
from tests.integration.store.test_store_read_only import (
    _assert_read_only_but_usable,
    _populate,
    _probe,
)

ROOT = Path(__file__).resolve().parents[3]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _journal_mode_byte(path: Path) -> tuple[int, int]:
    """Header bytes 18/19: 1 = rollback journal, 2 = WAL."""
    head = path.read_bytes()[:20]
    return head[18], head[19]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    with unprivileged.shared_dir() as base:
        yield base


def _backup_of_a_populated_database(folder: Path) -> Path:
    live = folder / "live" / "orders.sqlite3"
    live.parent.mkdir(parents=True, mode=0o700)
    _populate(live)
    backup = create_backup(live, folder / "backups").path
    assert _journal_mode_byte(backup) == (1, 1)  # a self-contained rollback-journal file
    return backup


def test_r32_a_backup_opens_read_only_without_a_byte_changed(tmp_path: Path) -> None:
    backup = _backup_of_a_populated_database(tmp_path)
    before, names = _sha(backup), sorted(p.name for p in backup.parent.iterdir())
    db = open_database(backup, read_only=True)  # failed: "database is read-only"
    try:
        store = SqliteEventStore(db)
        assert [e.version for e in store.read_stream("order-1")] == [1, 2, 3]
        assert store.verify().ok and store.check_digest(store.digest()).ok
        assert db.pragma_report()["journal_mode"] == "delete"  # read as it is
    finally:
        db.close()
    assert _sha(backup) == before
    assert sorted(p.name for p in backup.parent.iterdir()) == names


def test_r32_the_gui_read_only_mode_works_on_a_backup(tmp_path: Path) -> None:
    """The GUI's read-only mode is ``bootstrap`` with ``read_only``: lists, history, verify
    and the projector's status all answer; the file stays as it was."""
    live = tmp_path / "live" / "orders.sqlite3"
    app = bootstrap(Settings(db_path=live), source="test")
    try:
        customer = c.RegisterCustomer(name="Ada")
        product = c.AddProduct(sku="MUG-1", name="Mug", price=Decimal("4.50"), currency="EUR")
        app.commands.dispatch(customer)
        app.commands.dispatch(product)
        place = c.PlaceOrder(
            customer_id=customer.customer_id,
            lines=(c.LineInput(product_id=product.product_id, quantity=2),),
        )
        app.commands.dispatch(place)
        assert app.projector is not None
        app.projector.run_once()
    finally:
        app.close()
    backup = create_backup(live, tmp_path / "backups").path
    before, names = _sha(backup), sorted(p.name for p in backup.parent.iterdir())
    app = bootstrap(Settings(db_path=backup, read_only=True), source="test", create=False)
    try:
        assert app.read_only
        # A backup holds the events only: its lists are projected (as the window's projector
        # job does) into a temporary read model of this process, nothing beside the backup.
        assert app.projector is not None
        app.projector.run_once()
        rows = app.queries.ask(q.ListOrders()).rows
        assert [r.order_id for r in rows] == [place.order_id]
        history = app.queries.ask(q.GetOrderHistory(order_id=place.order_id))
        assert history[0].type_name == "OrderPlaced"
        assert app.queries.ask(q.VerifyHistory()).ok
        assert app.queries.ask(q.GetStoreInfo()).read_only
        assert app.queries.ask(q.GetProjectorStatus()).lag == 0
    finally:
        app.close()
    assert _sha(backup) == before
    assert sorted(p.name for p in backup.parent.iterdir()) == names


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_r32_cli_verify_status_and_history_read_a_backup_as_it_is(tmp_path: Path) -> None:
    live = tmp_path / "live" / "orders.sqlite3"
    live.parent.mkdir()  # `demo` never creates a missing folder (a mistyped --db)
    assert _cli("demo", "--orders", "3", "--db", live).returncode == 0
    backup = create_backup(live, tmp_path / "backups").path
    before = _sha(backup)
    for args in (("verify",), ("status",), ("history", "SO-000001")):
        run = _cli(*args, "--db", backup)
        assert run.returncode == 0, (args, run.stderr)
        assert "read-only" not in run.stderr
    assert _sha(backup) == before


def test_r32_restored_files_end_in_wal_mode(tmp_path: Path) -> None:
    backup = _backup_of_a_populated_database(tmp_path)
    target = tmp_path / "restored" / "orders.sqlite3"
    result = restore(backup, target)
    assert result.target == target
    assert _journal_mode_byte(target) == (2, 2)
    assert not target.with_name("orders.sqlite3-wal").exists()
    before = _sha(target)
    db = open_database(target, read_only=True)  # right after a restore: as verifiable
    try:
        assert SqliteEventStore(db).verify().ok
    finally:
        db.close()
    assert _sha(target) == before
    con = sqlite3.connect(target)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


# ---------------------------------------------------------------- unprivileged user


def test_r32_a_read_only_backup_in_a_read_only_folder_is_verifiable(shared_dir: Path) -> None:
    backup = _backup_of_a_populated_database(shared_dir)
    folder = backup.parent
    own(folder, *folder.iterdir())
    os.chmod(backup, 0o400)
    os.chmod(folder, 0o500)
    names = sorted(p.name for p in folder.iterdir())
    _assert_read_only_but_usable(_probe(backup), "read-only")  # checks the hash too
    assert sorted(p.name for p in folder.iterdir()) == names


@pytest.mark.parametrize("folder_writable", [False, True], ids=["their-folder", "my-folder"])
def test_r32_another_accounts_backup_is_verifiable(shared_dir: Path, folder_writable: bool) -> None:
    """A backup of another account (root here), readable but not writable, in their folder
    or copied into one of mine: opened read-only, verifiable, not a byte changed."""
    backup = _backup_of_a_populated_database(shared_dir)
    os.chmod(backup, 0o644)
    os.chmod(backup.parent, 0o755)
    if folder_writable:
        own(backup.parent)
    _assert_read_only_but_usable(_probe(backup), "read-only")


def _backup_probe(db: Path, dest: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.backup_probe", str(db), str(dest)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    if IS_ROOT:
        assert data["uid"] == NOBODY
    return data


def _dest(shared_dir: Path) -> Path:
    dest = shared_dir / "my-backups"
    dest.mkdir(mode=0o700)
    own(dest)
    return dest


@pytest.mark.parametrize("whose", ["mine-read-only", "another-account"])
def test_a_read_only_database_can_be_backed_up_into_a_writable_folder(
    shared_dir: Path, whose: str
) -> None:
    folder = shared_dir / "data"
    folder.mkdir(mode=0o755)
    path = folder / "orders.sqlite3"
    _populate(path)  # a WAL-mode live file, closed cleanly (no -wal beside it)
    assert _journal_mode_byte(path) == (2, 2)
    if whose == "mine-read-only":
        own(folder, path)
        os.chmod(path, 0o400)
        os.chmod(folder, 0o500)
    else:
        os.chmod(path, 0o644)  # root's file in root's folder: readable, not writable
    dest = _dest(shared_dir)
    data = _backup_probe(path, dest)
    assert "error" not in data, data["error"]
    assert data["check_ok"] is True and data["events"] == 3
    assert data["unchanged"] is True
    assert sorted(p.name for p in folder.iterdir()) == ["orders.sqlite3"]
