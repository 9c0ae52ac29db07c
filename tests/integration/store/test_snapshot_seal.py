"""R26: a snapshot the program did not seal itself never decides a command.

Each test works on a real database file and forges rows with plain ``sqlite3``, recomputing the
public checksum (``records.snapshot_checksum``) exactly as an attacker with the file could.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application.audit import verify_history
from desktop_app.application.ports import StoreError
from desktop_app.application.repository import NotFoundError
from desktop_app.bootstrap import App, bootstrap, snapshot_summary
from desktop_app.cli import main as cli_main
from desktop_app.config import Settings
from desktop_app.domain.errors import RuleViolation
from desktop_app.store.engine import open_database
from desktop_app.store.records import snapshot_checksum
from desktop_app.store.schema import SCHEMA_VERSION
from desktop_app.store.sealing import key_path, read_database_id
from tests.unit.application.helpers import World


def _open(path: Path, key_dir: Path, *, read_only: bool = False) -> App:
    return bootstrap(
        Settings(db_path=path, key_dir=key_dir, read_only=read_only, snapshot_interval=0),
        source="test",
    )


def _cancelled_order_with_snapshot(path: Path, key_dir: Path) -> tuple[str, str, int]:
    """A cancelled order whose newest snapshot (sealed) is at the cancelled version."""
    app = _open(path, key_dir)
    try:
        world = World(app)
        order_id = world.place(2)
        world.send(c.CancelOrder(order_id=order_id, reason="customer changed their mind"))
        world.send(c.TakeSnapshot(order_id=order_id))
        version = world.version(order_id)
        return order_id, world.mug, version
    finally:
        app.close()


def _forge_state(path: Path, stream_id: str, version: int, **changes: object) -> None:
    """Edit a snapshot's state in the file and recompute the public checksum."""
    con = sqlite3.connect(path)
    with con:
        kind, schema, text = con.execute(
            "SELECT aggregate_type, schema_version, state FROM snapshots "
            "WHERE stream_id = ? AND version = ?",
            (stream_id, version),
        ).fetchone()
        state = json.loads(text)
        state.update(changes)
        forged = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        con.execute(
            "UPDATE snapshots SET state = ?, checksum = ? WHERE stream_id = ? AND version = ?",
            (
                forged,
                snapshot_checksum(stream_id, version, kind, schema, forged),
                stream_id,
                version,
            ),
        )
    con.close()


def _add_line(order_id: str, product_id: str) -> c.AddOrderLine:
    return c.AddOrderLine(order_id=order_id, line=c.LineInput(product_id=product_id, quantity=1))


def test_forged_snapshot_cannot_reopen_a_cancelled_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, mug, version = _cancelled_order_with_snapshot(path, keys)
    stream = f"order-{order_id}"
    _forge_state(path, stream, version, status="pending", cancel_reason=None)

    app = _open(path, keys)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(RuleViolation) as refused:
            app.commands.dispatch(_add_line(order_id, mug))
        assert "This order is cancelled" in refused.value.message
        assert app.events.stream_version(stream) == version  # nothing was written
        trust = app.snapshots.trust()
        assert trust.sealing and trust.ignored >= 1
        assert f"{stream} at v{version}" in (trust.last_problem or "")
        assert "seal does not match" in (trust.last_problem or "")
        assert any("seal does not match" in r.getMessage() for r in caplog.records)
        assert app.deps.orders.load(order_id).status.value == "cancelled"
    finally:
        app.close()


def test_genuine_snapshot_is_used_and_the_key_is_private(tmp_path: Path) -> None:
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, _mug, version = _cancelled_order_with_snapshot(path, keys)
    app = _open(path, keys)
    try:
        snap = app.snapshots.latest_snapshot(f"order-{order_id}")
        assert snap is not None and snap.version == version
        assert snap.state["status"] == "cancelled"
        assert app.snapshots.trust().ignored == 0
    finally:
        app.close()
    [key_file] = keys.iterdir()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    con = sqlite3.connect(path)
    database_id = con.execute("SELECT value FROM store_meta WHERE name = 'database_id'").fetchone()
    con.close()
    assert key_file == key_path(keys, database_id[0])
    assert key_file.read_text().strip() not in path.read_bytes().decode("latin-1")


def test_without_the_key_snapshots_are_ignored_not_trusted(tmp_path: Path) -> None:
    """Another account (its own, empty key folder) or a copied file: full replay, reported."""
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, mug, version = _cancelled_order_with_snapshot(path, keys)
    stream = f"order-{order_id}"
    _forge_state(path, stream, version, status="pending", cancel_reason=None)
    os.chmod(path, 0o400)  # read-only: no key may be made for it
    other = tmp_path / "other-account"
    app = _open(path, other, read_only=True)
    try:
        assert app.snapshots.latest_snapshot(stream) is None
        trust = app.snapshots.trust()
        assert not trust.sealing and "no usable snapshot key" in trust.key_note
        assert trust.ignored >= 1
        assert app.deps.orders.load(order_id).status.value == "cancelled"
    finally:
        app.close()
    assert not other.exists()  # a read-only open never makes a key
    os.chmod(path, 0o600)
    # Writable now: a fresh key is made for this account; the old snapshots stay untrusted
    # (sealed with another key), the order is replayed and the command is refused.
    app = _open(path, other)
    try:
        assert app.snapshots.trust().sealing
        with pytest.raises(RuleViolation, match="cancelled"):
            app.commands.dispatch(_add_line(order_id, mug))
        assert "another key" in (app.snapshots.trust().last_problem or "")
        app.commands.dispatch(c.TakeSnapshot(order_id=order_id))
        assert app.snapshots.trust().ignored >= 1
    finally:
        app.close()
    # The owner's key cannot read the other account's new seal either.
    app = _open(path, keys)
    try:
        assert app.snapshots.get_snapshot(stream, version) is None
    finally:
        app.close()


def test_a_sealed_snapshot_moved_to_another_version_is_ignored(tmp_path: Path) -> None:
    """The seal covers the version and the hash of the event there: a genuine row copied to
    a later version (state, checksum and seal carried along) is not trusted."""
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    app = _open(path, keys)
    try:
        world = World(app)
        order_id = world.place(2)
        stream = world.stream(order_id)
        world.send(c.TakeSnapshot(order_id=order_id))  # v2: pending, 1 line
        old = world.version(order_id)
        world.send(c.CancelOrder(order_id=order_id, reason="duplicate"))
        cancelled = world.version(order_id)
        mug = world.mug
    finally:
        app.close()
    con = sqlite3.connect(path)
    with con:
        row = con.execute(
            "SELECT aggregate_type, schema_version, state, size_bytes, taken_at, seal "
            "FROM snapshots WHERE stream_id = ? AND version = ?",
            (stream, old),
        ).fetchone()
        kind, schema, state, size, taken_at, seal = row
        con.execute(
            "INSERT INTO snapshots (stream_id, version, aggregate_type, schema_version, state, "
            "checksum, size_bytes, taken_at, seal) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                stream,
                cancelled,
                kind,
                schema,
                state,
                snapshot_checksum(stream, cancelled, kind, schema, state),
                size,
                taken_at,
                seal,
            ),
        )
    con.close()
    app = _open(path, keys)
    try:
        assert app.snapshots.get_snapshot(stream, cancelled) is None
        latest = app.snapshots.latest_snapshot(stream)
        assert latest is not None and latest.version == old  # the genuine one still counts
        with pytest.raises(RuleViolation, match="cancelled"):
            app.commands.dispatch(_add_line(order_id, mug))
        [info] = [i for i in app.snapshots.list_snapshots(stream) if i.version == cancelled]
        assert not info.valid and "seal does not match" in (info.problem or "")
    finally:
        app.close()


def test_unsealed_rows_from_before_seals_are_not_trusted(tmp_path: Path) -> None:
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, _mug, _version = _cancelled_order_with_snapshot(path, keys)
    stream = f"order-{order_id}"
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE snapshots SET seal = '' WHERE stream_id = ?", (stream,))
    con.close()
    app = _open(path, keys)
    try:
        assert app.snapshots.latest_snapshot(stream) is None
        assert "not sealed" in (app.snapshots.trust().last_problem or "")
        with pytest.raises(NotFoundError):
            app.deps.orders.load("no-such-order")
    finally:
        app.close()


def test_a_schema_1_file_is_upgraded_with_a_seal_column_and_a_database_id(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    open_database(path).close()
    con = sqlite3.connect(path)
    with con:
        con.execute("DROP TABLE store_meta")
        con.execute("ALTER TABLE snapshots DROP COLUMN seal")
    con.execute("PRAGMA user_version = 1")
    con.close()
    db = open_database(path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= 4
        with db.raw() as raw:
            columns = {row[1] for row in raw.execute("PRAGMA table_info(snapshots)")}
            database_id = read_database_id(raw)
        assert "seal" in columns and database_id is not None and len(database_id) == 32
    finally:
        db.close()


def test_status_reports_snapshot_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, _mug, version = _cancelled_order_with_snapshot(path, keys)
    _forge_state(path, f"order-{order_id}", version, status="pending", cancel_reason=None)
    assert cli_main(["status", "--db", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # The CLI runs with this account's default key folder, which holds no key for this file.
    assert data["snapshots"] == 1 and data["snapshots_untrusted"] == 1
    assert data["snapshots_sealing"] is False and "no usable snapshot key" in data["snapshot_key"]
    app = _open(path, keys)
    try:
        app.deps.orders.load(order_id)
        assert str(keys) in app.info.details["snapshots"]
        summary = snapshot_summary(app.snapshots.trust())
        assert "1 ignored" in summary and "seal does not match" in summary
    finally:
        app.close()


def test_a_schema_1_backup_opened_read_only_is_viewable_and_verifiable(tmp_path: Path) -> None:
    """An old backup cannot be upgraded read-only: its unsealed snapshots are listed and
    compared by verify, never trusted, and nothing fails on the missing seal column."""
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, _mug, version = _cancelled_order_with_snapshot(path, keys)
    con = sqlite3.connect(path)
    with con:
        con.execute("DROP TABLE store_meta")
        con.execute("ALTER TABLE snapshots DROP COLUMN seal")
    con.execute("PRAGMA user_version = 1")
    con.close()
    app = _open(path, keys, read_only=True)
    try:
        stream = f"order-{order_id}"
        assert app.info.schema_version == 1
        assert app.snapshots.latest_snapshot(stream) is None
        [info] = app.snapshots.list_snapshots(stream)
        assert info.version == version and not info.valid
        assert "no database id" in app.snapshots.trust().key_note
        result = verify_history(app.events, app.snapshots)
        assert result.ok and result.snapshots_checked == 1 and result.notes
        assert app.deps.orders.load(order_id).status.value == "cancelled"
    finally:
        app.close()


def test_no_auto_snapshot_is_attempted_without_a_key(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the key folder should be")
    app = bootstrap(
        Settings(db_path=path, key_dir=blocked / "keys", snapshot_interval=2), source="test"
    )
    try:
        assert not app.snapshots.trust().sealing
        world = World(app)
        order_id = world.place(1, 2, 3)  # v4: crosses the interval
        assert world.version(order_id) == 4
        assert app.snapshots.list_snapshots(f"order-{order_id}") == []
        with pytest.raises(StoreError, match="no snapshot key"):
            app.commands.dispatch(c.TakeSnapshot(order_id=order_id))
    finally:
        app.close()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX; Windows uses ACLs")
def test_a_key_readable_by_others_is_not_trusted(tmp_path: Path) -> None:
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, _mug, version = _cancelled_order_with_snapshot(path, keys)
    [key_file] = keys.iterdir()
    os.chmod(key_file, 0o644)
    app = _open(path, keys, read_only=True)
    try:
        assert not app.snapshots.trust().sealing
        assert app.snapshots.get_snapshot(f"order-{order_id}", version) is None
    finally:
        app.close()


def test_snapshots_stay_trusted_through_backup_and_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key is named by the database id stored in the file, so a restored backup (same
    id) keeps its sealed snapshots, while the key itself never goes into the backup."""
    path, keys = tmp_path / "orders.sqlite3", tmp_path / "keys"
    order_id, mug, version = _cancelled_order_with_snapshot(path, keys)
    assert cli_main(["backup", "--db", str(path)]) == 0
    [backup] = (path.parent / "backups").glob("*.sqlite3")  # (its anchor lies beside it)
    [key_file] = keys.iterdir()
    assert key_file.read_text().strip().encode() not in backup.read_bytes()
    assert cli_main(["restore", "--db", str(path), str(backup), "--yes"]) == 0
    capsys.readouterr()
    app = _open(path, keys)
    try:
        snap = app.snapshots.latest_snapshot(f"order-{order_id}")
        assert snap is not None and snap.version == version
        assert app.snapshots.trust().ignored == 0
        with pytest.raises(RuleViolation, match="cancelled"):
            app.commands.dispatch(_add_line(order_id, mug))
    finally:
        app.close()
