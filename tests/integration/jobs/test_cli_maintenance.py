"""The maintenance subcommands, called through a small argparse parser and a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.cli_maintenance import add_maintenance_commands
from desktop_app.store.backup import list_backups

from .support import ROOT, add_product, change_price, event_rows, open_app


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="test")
    sub = parser.add_subparsers(dest="command", required=True)
    add_maintenance_commands(sub)
    args = parser.parse_args([str(a) for a in argv])
    assert args.run is args.func
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(db: Path) -> Path:
    app = open_app(db)
    try:
        product = add_product(app)
        for i in range(40):
            change_price(app, product, 100 + i)
        assert app.projector is not None
        app.projector.run_once()
    finally:
        app.close()
    return db


def one_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("desktop-app-admin: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_status(capsys: pytest.CaptureFixture[str], filled: Path) -> None:
    code, out, err = run(capsys, "status", "--db", filled, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["head"] == 41 and data["checkpoint"] == 41 and data["lag"] == 0
    assert data["database"] == str(filled) and data["db_bytes"] > 0
    assert data["read_only"] is False and data["wal_bytes"] >= 0
    # The lists' own file beside the database.
    assert data["read_model_file"] == str(
        filled.with_name(f"{filled.stem}.readmodel{filled.suffix}")
    )
    assert data["read_model_bytes"] > 0
    code, out, _ = run(capsys, "status", "--db", filled)
    assert code == 0
    assert "Projector lag:" in out and "WAL size:" in out and "Read-only:" in out
    assert "Read model:" in out


def test_backup_and_restore(
    capsys: pytest.CaptureFixture[str], filled: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "bk"
    for _ in range(3):
        code, out, err = run(capsys, "backup", "--db", filled, "--to", folder, "--keep", "2")
        assert code == 0, err
        assert "Backup written to" in out
    backups = list_backups(folder)
    assert len(backups) == 2
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    code, out, err = run(capsys, "backup", "--db", filled)  # the configured folder
    assert code == 0, err
    assert len(list_backups(filled.parent / "backups")) == 1

    app = open_app(filled)
    try:
        change_price(app, add_product(app, "X-2"), 777)
    finally:
        app.close()
    code, _, err = run(capsys, "restore", str(backups[0].path), "--db", filled)
    assert code == 2  # stdin is not a terminal and --yes was not given
    one_error(err, "--yes")
    code, out, err = run(capsys, "restore", str(backups[0].path), "--db", filled, "--yes")
    assert code == 0, err
    assert "chain verified" in out and "before-restore" in out
    assert event_rows(filled) == event_rows(backups[0].path)
    code, out, err = run(capsys, "restore", "latest", "--db", filled, "--yes")
    assert code == 0, err


def test_rebuild_prints_progress(capsys: pytest.CaptureFixture[str], filled: Path) -> None:
    code, out, err = run(capsys, "rebuild", "--db", filled)
    assert code == 0, err
    assert "41 events applied" in out
    assert "Rebuilding: 41 / 41 (100%)" in err  # plain lines when stderr is not a terminal


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite3"
    for argv in (["status"], ["rebuild"], ["backup"]):
        code, _, err = run(capsys, *argv, "--db", missing)
        assert code == 2
        one_error(err, str(missing))
    assert not missing.exists()
    code, _, err = run(capsys, "restore", str(tmp_path / "none.sqlite3"), "--db", missing, "--yes")
    assert code == 2
    one_error(err, "no backup")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"x" * 4096)
    code, _, err = run(capsys, "restore", str(garbage), "--db", missing, "--yes")
    assert code != 0
    one_error(err, "cannot be restored")
    assert not missing.exists()


def test_through_a_subprocess(filled: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop_app.cli_maintenance",
            "status",
            "--db",
            str(filled),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["head"] == 41
    assert "Traceback" not in done.stderr


def test_status_shows_the_projectors_rate_and_last_error_as_it_reported_them(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    from datetime import UTC, datetime

    from desktop_app.application.queries import ProjectorStatus
    from desktop_app.identity import host_name
    from desktop_app.store.projector_report import StatusReporter, report_path

    app = open_app(db)  # the projecting process, open while `status` runs beside it
    try:
        product = add_product(app)
        for i in range(40):
            change_price(app, product, 100 + i)
        assert app.projector is not None
        app.projector.run_once()
        shown = app.projector.status()  # what the status bar's tooltip shows
        assert shown.events_per_second > 0 and not shown.running
        code, out, err = run(capsys, "status", "--db", db, "--json")
        assert code == 0, err
        report = json.loads(out)["projector"]
        # The very figure of the projecting process, not a second measurement.
        assert report["events_per_second"] == shown.events_per_second
        assert report["last_error"] is None and report["running"] is False
        assert report["reported_by"]["pid"] == os.getpid()
        assert report["reported_by"]["host"] == host_name()
        code, out, _ = run(capsys, "status", "--db", db)
        rate = next(line for line in out.splitlines() if line.startswith("Projector rate:"))
        assert f"{round(shown.events_per_second):,} events/s" in rate and "(last run)" in rate
        assert "Projector last error: none" in out
        lines = out.splitlines()
        lag = next(i for i, line in enumerate(lines) if line.startswith("Projector lag:"))
        assert lines[lag + 1].startswith("Projector rate:")  # beside the lag and the last error
        assert lines[lag + 2].startswith("Projector last error:")
    finally:
        app.close()
    # Closed cleanly: like the projector's lock, the report goes with its process.
    assert not report_path(db).exists()
    code, out, _ = run(capsys, "status", "--db", db)
    assert "Projector rate:       not known (no projector is running on this file)" in out
    assert "Projector last error: not known" in out

    # A projector that stopped on an event reports why; a follower's status is not reported.
    reporter = StatusReporter(db, user="maria", host="WS-3")
    reporter(
        ProjectorStatus(
            checkpoint=30,
            head=41,
            lag=11,
            events_per_second=0.0,
            running=False,
            last_error="ProjectionError: event #31 cannot be applied",
            failed_position=31,
            updated_at=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        )
    )
    StatusReporter(db)(
        ProjectorStatus(
            checkpoint=41, head=41, lag=0, events_per_second=5.0, running=False, owner="other"
        )
    )
    code, out, _ = run(capsys, "status", "--db", db)
    assert (
        "Projector last error: ProjectionError: event #31 cannot be applied "
        "(stopped at event #31)" in out
    )
    assert "0 events/s (idle) — reported by maria on WS-3" in out
    reporter.close()
    assert not report_path(db).exists()
