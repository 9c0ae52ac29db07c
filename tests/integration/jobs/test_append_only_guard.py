"""R29: a restore never weakens the live file; a writable open with missing or altered
append-only triggers is read-only and says why; ``repair`` (only after a passing verify) puts
the triggers back and records that it did."""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app import cli
from desktop_app.application.ports import StoreReadOnlyError
from desktop_app.cli_maintenance import add_maintenance_commands
from desktop_app.config import Settings
from desktop_app.store.anchors import read_anchor_log
from desktop_app.store.backup import BackupError, check_backup, create_backup, restore
from desktop_app.store.engine import open_database
from desktop_app.store.schema import APPEND_ONLY_TRIGGERS, SCHEMA_VERSION
from desktop_app.store.triggers import events_triggers, expected_triggers

from .support import add_product, change_price, event_rows, open_app


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The anchor log (in the user's data folder) is this test's own."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def _log(db: Path) -> Path:
    return Settings(db_path=db).anchor_log


def _admin(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="test")
    add_maintenance_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def _filled(db: Path, events: int = 10) -> str:
    app = open_app(db)
    try:
        product = add_product(app)
        for i in range(events - 1):
            change_price(app, product, 100 + i)
    finally:
        app.close()
    return product


def _triggers(db: Path) -> dict[str, str | None]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return events_triggers(con)
    finally:
        con.close()


def _edit(db: Path, *sql: str) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    try:
        for statement in sql:
            con.execute(statement)
    finally:
        con.close()


DROP_DELETE = "DROP TRIGGER events_no_delete"
# The same name and message, one added clause ("WHEN 0") that makes it never fire.
ALTERED_DELETE = (
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events WHEN 0 "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END"
)
EXTRA_TRIGGER = (
    "CREATE TRIGGER events_swallow BEFORE INSERT ON events "
    "WHEN NEW.type_name = 'OrderCancelled' BEGIN SELECT RAISE(IGNORE); END"
)


# --- restore refuses a backup that would weaken the live file ------------------------------


def _tamper_chain(db: Path) -> None:
    _edit(
        db,
        "DROP TRIGGER events_no_update",
        "UPDATE events SET payload = replace(payload, '1.05', '9.05') WHERE position = 7",
        APPEND_ONLY_TRIGGERS[0],
    )


def _tamper_tail(db: Path) -> None:
    _edit(db, DROP_DELETE, "DELETE FROM events WHERE position > 8", APPEND_ONLY_TRIGGERS[1])


def _corrupt(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(2 * page, len(data), page):  # every page after the first two
        data[offset + 8 : offset + 64] = b"\xff" * 56
    db.write_bytes(bytes(data))


REFUSALS: dict[str, tuple[Callable[[Path], None], str]] = {
    "application id": (
        lambda p: _edit(p, "PRAGMA application_id = 1234"),
        "application id is 0x4d2",
    ),
    "newer schema": (
        lambda p: _edit(p, f"PRAGMA user_version = {SCHEMA_VERSION + 1}"),
        f"schema version is {SCHEMA_VERSION + 1}",
    ),
    "unstamped schema": (lambda p: _edit(p, "PRAGMA user_version = 0"), "schema version is 0"),
    "dropped trigger": (lambda p: _edit(p, DROP_DELETE), "trigger events_no_delete is missing"),
    "altered trigger": (
        lambda p: _edit(p, DROP_DELETE, ALTERED_DELETE),
        "trigger events_no_delete was altered",
    ),
    "extra trigger": (
        lambda p: _edit(p, EXTRA_TRIGGER),
        "unexpected trigger events_swallow",
    ),
    "integrity": (_corrupt, "integrity check failed"),
    "hash chain": (_tamper_chain, "hash chain is broken at position 7"),
    "anchors": (_tamper_tail, "does not extend its anchors"),
}


@pytest.mark.parametrize("reason", sorted(REFUSALS))
def test_restore_refuses_a_backup_that_would_weaken_the_live_file(
    capsys: pytest.CaptureFixture[str], db: Path, reason: str
) -> None:
    _filled(db)
    backup = create_backup(db, db.parent / "backups", anchor_log=_log(db)).path
    tamper, expected = REFUSALS[reason]
    tamper(backup)
    before = event_rows(db)
    names_before = sorted(p.name for p in db.parent.iterdir())

    with pytest.raises(BackupError) as refused:
        restore(backup, db, anchor_log=_log(db))
    assert expected in str(refused.value)
    code, _, err = _admin(capsys, "restore", backup, "--db", db, "--yes")
    assert code == 1
    assert "cannot be restored" in err and expected in err
    # Nothing changed: the live file, its folder (no before-restore copy) and the anchor log.
    assert event_rows(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == names_before
    assert [a.reason for a in read_anchor_log(_log(db))[0]] == ["created", "backup"]


def test_restore_refuses_a_backup_of_another_history(db: Path, tmp_path: Path) -> None:
    """A backup whose events differ from what was anchored for the target (another database,
    or this one rewritten in full with recomputed hashes) is refused."""
    _filled(db)
    create_backup(db, db.parent / "backups", anchor_log=_log(db))
    other = tmp_path / "other" / "orders.sqlite3"
    _filled(other, 12)
    foreign = create_backup(other, other.parent / "backups").path
    with pytest.raises(BackupError, match=r"not the anchored one"):
        restore(foreign, db, anchor_log=_log(db))


def test_a_good_backup_passes_every_check(db: Path) -> None:
    _filled(db)
    backup = create_backup(db, db.parent / "backups", anchor_log=_log(db)).path
    check = check_backup(backup, target=db, anchor_log=_log(db))
    assert check.ok, check.problem
    assert check.stamps is None and check.triggers is None and check.integrity == "ok"
    assert check.anchors is not None and len(check.anchors.checked) == 2  # log + sidecar


# --- a writable open with missing or altered triggers is read-only -------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ((DROP_DELETE,), "trigger events_no_delete is missing"),
        ((DROP_DELETE, ALTERED_DELETE), "trigger events_no_delete was altered"),
        ((EXTRA_TRIGGER,), "unexpected trigger events_swallow"),
    ],
    ids=["dropped", "altered", "extra"],
)
def test_a_writable_open_without_exact_triggers_is_read_only(
    db: Path, change: tuple[str, ...], expected: str
) -> None:
    product = _filled(db)
    _edit(db, *change)
    triggers = _triggers(db)

    database = open_database(db)
    try:
        assert database.read_only
        reason = database.read_only_reason or ""
        assert expected in reason and "desktop-app-admin repair" in reason
        with pytest.raises(StoreReadOnlyError, match="append-only"):
            database.ensure_writable()
    finally:
        database.close()
    app = open_app(db)
    try:
        assert app.read_only and expected in (app.info.read_only_reason or "")
        with pytest.raises(StoreReadOnlyError):
            change_price(app, product, 4711)
    finally:
        app.close()
    assert _triggers(db) == triggers  # opening never "fixed" (or touched) them silently


def test_status_says_why_it_is_read_only(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    _filled(db)
    _edit(db, DROP_DELETE)
    code, out, err = _admin(capsys, "status", "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["read_only"] is True
    assert "events_no_delete is missing" in data["read_only_reason"]


# --- repair ----------------------------------------------------------------------------------


def test_repair_puts_the_triggers_back_after_a_passing_verify_and_records_it(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    product = _filled(db)
    _edit(db, DROP_DELETE, ALTERED_DELETE, EXTRA_TRIGGER)
    assert cli.main(["verify", "--db", str(db)]) == 0  # the history itself is intact ...
    out = capsys.readouterr().out
    assert "Note: the append-only protection" in out and "events_swallow" in out  # ... but

    code, out, err = _admin(capsys, "repair", "--db", db)

    assert code == 0, err
    assert "Repaired:" in out and str(_log(db)) in out
    assert _triggers(db) == expected_triggers()
    record = read_anchor_log(_log(db))[0][-1]
    assert record.reason == "repair"
    assert record.head_position == 10 and record.user
    assert "events_no_delete was altered" in record.extra["problem"]
    assert "dropped unexpected events_swallow" in record.extra["actions"]
    assert "created events_no_delete" in record.extra["actions"]
    app = open_app(db)
    try:
        assert not app.read_only
        change_price(app, product, 4242)  # writable again
    finally:
        app.close()
    assert cli.main(["verify", "--db", str(db)]) == 0
    code, out, _ = _admin(capsys, "repair", "--db", db)
    assert code == 0 and "Nothing to repair" in out


@pytest.mark.parametrize("damage", ["chain", "anchors"])
def test_repair_is_refused_when_verify_fails(
    capsys: pytest.CaptureFixture[str], db: Path, damage: str
) -> None:
    _filled(db)
    app = open_app(db)
    try:
        assert app.database is not None
        from desktop_app.store.maintenance import write_anchor

        write_anchor(app.database, _log(db), "exit")
    finally:
        app.close()
    if damage == "chain":
        _edit(
            db,
            "DROP TRIGGER events_no_update",
            "UPDATE events SET payload = replace(payload, '1.05', '9.05') WHERE position = 7",
        )
        expected = "verify failed at position 7"
    else:
        _edit(db, DROP_DELETE, "DELETE FROM events WHERE position > 8")
        expected = "(#10, written on exit)"
    triggers = _triggers(db)
    records = len(read_anchor_log(_log(db))[0])

    code, _, err = _admin(capsys, "repair", "--db", db)

    assert code == 1
    assert "repair refused" in err and expected in err and "restore" in err
    assert _triggers(db) == triggers  # nothing put back
    assert len(read_anchor_log(_log(db))[0]) == records  # nothing recorded
