"""R28: the head of the hash chain is anchored outside the database on every backup, on a clean
exit and daily; ``verify`` catches a truncated or recomputed tail against those anchors, with no
hand-kept digest, and names the anchor that failed; ``status`` shows the last anchor."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop_app import cli
from desktop_app.bootstrap import App
from desktop_app.cli_maintenance import add_maintenance_commands
from desktop_app.config import Settings
from desktop_app.jobs import JobsConfig, build_jobs
from desktop_app.store.anchors import read_anchor_log, sidecar_path
from desktop_app.store.backup import check_backup, create_backup, restore
from desktop_app.store.hashing import row_hash
from desktop_app.store.maintenance import write_anchor
from desktop_app.store.schema import APPEND_ONLY_TRIGGERS

from .support import add_product, change_price, hash_at, open_app


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's data folder (where the anchor log lives) is this test's own."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def _log(db: Path) -> Path:
    return Settings(db_path=db).anchor_log


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _filled(db: Path, events: int = 30) -> tuple[App, str]:
    app = open_app(db)
    product = add_product(app)
    for i in range(events - 1):
        change_price(app, product, 100 + i)
    return app, product


def _attacker(db: Path) -> sqlite3.Connection:
    """A raw connection with the append-only triggers dropped, as anyone with the file could."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DROP TRIGGER events_no_update")
    con.execute("DROP TRIGGER events_no_delete")
    return con


def _truncate(db: Path, keep: int, *, cover: bool = False) -> None:
    """Cut events off the end; with ``cover`` put the triggers back exactly afterwards."""
    con = _attacker(db)
    try:
        con.execute("DELETE FROM events WHERE position > ?", (keep,))
        con.execute("DELETE FROM commands WHERE last_position > ?", (keep,))
        if cover:
            for ddl in APPEND_ONLY_TRIGGERS:
                con.execute(ddl)
    finally:
        con.close()


def _recompute_tail(db: Path, start: int) -> None:
    """Change the event at ``start`` and recompute every hash from there to the head with the
    public formula: the chain is valid again, only an anchor kept elsewhere can tell."""
    con = _attacker(db)
    try:
        prev = con.execute("SELECT hash FROM events WHERE position = ?", (start - 1,)).fetchone()[0]
        rows = con.execute(
            "SELECT position, stream_id, version, event_id, type_name, schema_version, payload, "
            "metadata, recorded_at FROM events WHERE position >= ? ORDER BY position",
            (start,),
        ).fetchall()
        con.execute("BEGIN")
        for row in rows:
            position, stream_id, version, event_id, type_name, schema, payload, meta, at = row
            if position == start:
                data = json.loads(payload)
                data["price"] = "999.99"
                payload = json.dumps(data, sort_keys=True, separators=(",", ":"))
            new = row_hash(
                prev, position, stream_id, version, event_id, type_name, schema, payload, meta, at
            )
            con.execute(
                "UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE position = ?",
                (payload, prev, new, position),
            )
            prev = new
        con.execute("COMMIT")
    finally:
        con.close()


def _to_wal(db: Path) -> None:
    """A restored file is not in WAL mode and cannot yet be opened read-only (another helper's
    case, R32): one writable open puts it back in WAL."""
    open_app(db).close()


def _verify(capsys: pytest.CaptureFixture[str], db: Path) -> tuple[int, list[str]]:
    code = cli.main(["verify", "--db", str(db)])
    out = capsys.readouterr().out
    return code, out.splitlines()


def _admin(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    import argparse

    parser = argparse.ArgumentParser(prog="test")
    add_maintenance_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


# --- where anchors are written ---------------------------------------------------------------


def test_every_backup_is_anchored_beside_it_and_in_the_log(db: Path) -> None:
    app, _ = _filled(db, 12)
    try:
        jobs = build_jobs(app, JobsConfig(backup_interval_seconds=60.0))
        result = jobs._backup_tick()  # the scheduled job's body, driven directly
    finally:
        app.close()
    assert result is not None and "backup taken" in result
    log = _log(db)
    anchors, warnings = read_anchor_log(log)
    assert not warnings
    backup_anchor = [a for a in anchors if a.reason == "backup"]
    assert len(backup_anchor) == 1
    anchor = backup_anchor[0]
    assert anchor.db_path == str(db)
    assert (anchor.head_position, anchor.head_hash) == (12, hash_at(db, 12))
    assert anchor.event_count == 12
    assert anchor.database_id == hash_at(db, 1)
    backup = Path(anchor.extra["backup"])
    sidecar = sidecar_path(backup)
    beside = json.loads(sidecar.read_text())
    assert beside["head_position"] == 12 and beside["head_hash"] == anchor.head_hash
    # Private: 0600 files in 0700 folders, like the database.
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700
    assert _mode(log.parent.parent) == 0o700  # the data folder, created on the way
    assert _mode(sidecar) == 0o600


def test_backup_now_from_the_tools_menu_is_anchored(db: Path) -> None:
    from desktop_app.application.commands import BackupNow

    app, _ = _filled(db, 4)
    try:
        written = Path(app.commands.run_maintenance(BackupNow()))
    finally:
        app.close()
    anchor = read_anchor_log(_log(db))[0][-1]
    assert anchor.reason == "backup" and anchor.extra["backup"] == str(written)
    assert anchor.head_position == 4
    assert sidecar_path(written).exists()


def test_the_daily_job_anchors_once_a_day(db: Path) -> None:
    app, product = _filled(db, 5)
    try:
        log = _log(db)
        jobs = build_jobs(app, JobsConfig(), backups=False)
        assert "anchor written" in (jobs._anchor_tick() or "")
        assert jobs._anchor_tick() is None  # one anchor a day is enough
        change_price(app, product, 4242)
        later = datetime.now(UTC) + timedelta(hours=25)
        tomorrow = build_jobs(app, JobsConfig(), backups=False, clock=lambda: later)
        assert "anchor written" in (tomorrow._anchor_tick() or "")
    finally:
        app.close()
    daily = [a for a in read_anchor_log(log)[0] if a.reason == "daily"]
    assert [a.head_position for a in daily] == [5, 6]
    assert daily[1].head_hash == hash_at(db, 6)


def test_status_shows_the_last_anchor(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    app, _ = _filled(db, 7)
    try:
        assert app.database is not None
        write_anchor(app.database, _log(db), "exit")
    finally:
        app.close()
    code, out, err = _admin(capsys, "status", "--db", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["last_anchor"]["head_position"] == 7
    assert data["last_anchor"]["reason"] == "exit"
    assert data["last_anchor"]["head_hash"] == hash_at(db, 7)
    code, out, _ = _admin(capsys, "status", "--db", db)
    assert "Last anchor:" in out and "#7" in out and "on exit" in out


# --- what verify catches ---------------------------------------------------------------------


def test_a_truncated_tail_is_caught_without_a_hand_kept_digest(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    app, product = _filled(db, 20)
    try:
        create_backup(db, db.parent / "backups", anchor_log=_log(db))  # anchor at #20
        for i in range(10):
            change_price(app, product, 700 + i)
        assert app.database is not None
        write_anchor(app.database, _log(db), "exit")  # anchor at #30 (the clean exit)
    finally:
        app.close()
    code, lines = _verify(capsys, db)
    assert code == 0, lines
    assert any(line.startswith("OK: the log extends all 2 anchors") for line in lines), lines

    _truncate(db, keep=25)

    code, lines = _verify(capsys, db)
    assert code == 1, lines
    assert lines[0].startswith("OK: 25 events")  # the chain alone cannot see it (R12)
    failed = [line for line in lines if line.startswith("TAMPERED")]
    assert len(failed) == 1, lines  # the #20 anchor still holds; the exit anchor does not
    assert "(#30, written on exit)" in failed[0]
    assert f"{_log(db)}:" in failed[0]  # which file (and line) holds the anchor
    assert "ends at #25" in failed[0] and "removed from the end" in failed[0]


def test_a_recomputed_tail_is_caught_without_a_hand_kept_digest(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    app, _ = _filled(db, 20)
    try:
        create_backup(db, db.parent / "backups", anchor_log=_log(db))
    finally:
        app.close()
    anchored = hash_at(db, 20)

    _recompute_tail(db, start=15)

    assert hash_at(db, 20) != anchored
    code, lines = _verify(capsys, db)
    assert code == 1, lines
    assert lines[0].startswith("OK: 20 events")  # a valid chain, recomputed
    # The replay may flag the rewritten events too (R27); the anchor check must fail on its own.
    failed = [line for line in lines if line.startswith("TAMPERED: the log no longer extends")]
    assert len(failed) == 1, lines
    assert "(#20, written on backup)" in failed[0]
    assert "is not the anchored one" in failed[0] and "rewritten" in failed[0]


def test_tools_verify_history_checks_the_anchors_too(db: Path) -> None:
    from desktop_app.application.queries import VerifyHistory

    app, _ = _filled(db, 12)
    try:
        assert app.database is not None
        write_anchor(app.database, _log(db), "exit")
        assert app.queries.ask(VerifyHistory()).ok
    finally:
        app.close()
    _truncate(db, keep=9)
    app = open_app(db)  # read-only now (a trigger is gone), and verifying is still allowed
    try:
        result = app.queries.ask(VerifyHistory())
    finally:
        app.close()
    assert not result.ok and result.first_bad_position is None
    assert result.problem is not None
    assert "(#12, written on exit)" in result.problem and "ends at #9" in result.problem


def test_a_backup_is_checked_against_the_anchor_beside_it(db: Path) -> None:
    app, product = _filled(db, 10)
    try:
        backup = create_backup(db, db.parent / "backups", anchor_log=_log(db))
        change_price(app, product, 555)
    finally:
        app.close()
    check = check_backup(backup.path)
    assert check.ok, check.problem
    assert check.anchors is not None and len(check.anchors.checked) == 1
    _truncate(backup.path, keep=8, cover=True)
    check = check_backup(backup.path)
    assert check.chain is not None and check.chain.ok  # a shorter chain is still a chain
    assert not check.ok
    assert check.problem is not None
    assert str(sidecar_path(backup.path)) in check.problem and "(#10, written on backup)" in (
        check.problem
    )


def test_a_restore_gives_up_later_anchors_on_record(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    """Going back to an older backup is allowed, and recorded: the anchors after it no longer
    bind the file. The same older file put in place by hand is reported as truncated."""
    app, product = _filled(db, 10)
    try:
        backup = create_backup(db, db.parent / "backups", anchor_log=_log(db))
        for i in range(5):
            change_price(app, product, 800 + i)
        assert app.database is not None
        write_anchor(app.database, _log(db), "exit")
    finally:
        app.close()
    by_hand = db.with_name("by-hand.sqlite3")
    con = sqlite3.connect(backup.path)
    dst = sqlite3.connect(by_hand)
    con.backup(dst)
    dst.close()
    con.close()

    restore(backup.path, db, anchor_log=_log(db))
    _to_wal(db)
    _to_wal(by_hand)
    code, lines = _verify(capsys, db)
    assert code == 0, lines
    assert any("given up by a restore" in line for line in lines), lines
    assert read_anchor_log(_log(db))[0][-1].reason == "restore"

    # A copy of the database elsewhere that ends earlier is only noted, never an error ...
    code, lines = _verify(capsys, by_hand)
    assert code == 0, lines
    # ... but an older file put in place of the live one without `restore` is a truncation.
    app = open_app(db)
    try:
        change_price(app, product, 900)  # the restored file grows: #11
        assert app.database is not None
        write_anchor(app.database, _log(db), "exit")
    finally:
        app.close()
    db.unlink()
    by_hand.rename(db)
    code, lines = _verify(capsys, db)
    assert code == 1, lines
    assert any("TAMPERED" in line and "(#11, written on exit)" in line for line in lines)


def test_no_daily_anchors_where_they_cannot_be_written(tmp_path: Path, db: Path) -> None:
    """An anchor folder that cannot be created switches the daily job off (one log line)
    instead of failing every check; the other jobs still run."""
    from desktop_app.jobs import ANCHOR_JOB, PROJECTOR_JOB

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    blocked = open_app(db, anchor_dir=blocker / "anchors")
    try:
        with build_jobs(blocked, JobsConfig(), backups=False) as jobs:
            assert ANCHOR_JOB not in jobs.job_ids() and PROJECTOR_JOB in jobs.job_ids()
    finally:
        blocked.close()
    usable = open_app(db, anchor_dir=tmp_path / "anchors")
    try:
        with build_jobs(usable, JobsConfig(), backups=False) as jobs:
            assert ANCHOR_JOB in jobs.job_ids()
    finally:
        usable.close()


APPENDER = """
import sys
from pathlib import Path
from desktop_app.store.anchors import Head, anchor_record, append_anchor

log, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
head = Head(position=1, hash="0" * 64, event_count=1, database_id=None)
for i in range(count):
    append_anchor(log, anchor_record(head, reason=tag, db_path=Path(f"/{tag}/{i}" + "x" * 200)))
"""


def test_concurrent_writers_never_interleave_within_a_line(tmp_path: Path) -> None:
    """The GUI's exit, a backup in the CLI and the daily job of another process may append at
    the same moment: every line stays whole (one O_APPEND write per line)."""
    import os
    import subprocess
    import sys

    from .support import ROOT

    log = tmp_path / "anchors" / "anchors.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(log), tag, "300"], env=env)
        for tag in ("one", "two", "three")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    anchors, warnings = read_anchor_log(log)
    assert not warnings
    assert sorted(a.reason for a in anchors) == sorted(["one", "two", "three"] * 300)
    for tag in ("one", "two", "three"):  # each writer's own lines in its own order
        mine = [a.db_path for a in anchors if a.reason == tag]
        assert mine == [f"/{tag}/{i}" + "x" * 200 for i in range(300)]
