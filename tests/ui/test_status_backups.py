"""Issue 11: the status bar says "last backup … · next …" (from the backups folder and the
backup schedule) and the freshness tooltip gives the projector's rate, lag and last error."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from desktop_app.application.commands import BackupNow
from desktop_app.application.queries import BackupOverview, ProjectorStatus
from desktop_app.ui.formatting import format_datetime
from desktop_app.ui.status import backup_text, projector_tip
from tests.ui.conftest import RealApp, open_real_window

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _overview(**kw: Any) -> BackupOverview:
    base = BackupOverview(folder="/data/backups", count=3, newest=None, interval_hours=24.0)
    return replace(base, **kw)


def test_backup_text_says_last_and_next() -> None:
    text, tip = backup_text(_overview(count=0), NOW)
    assert text == "No backup yet · next within minutes"
    assert "0 backup(s) in /data/backups" in tip
    newest = NOW - timedelta(hours=2)
    text, tip = backup_text(_overview(newest=newest), NOW)
    assert text == f"Last backup 2 h ago · next {format_datetime(newest + timedelta(hours=24))}"
    assert "when the newest is 24 h old" in tip
    text, _ = backup_text(_overview(newest=NOW - timedelta(hours=30)), NOW)
    assert text.endswith("· next within minutes")  # overdue: the next check takes one
    text, tip = backup_text(_overview(newest=newest, interval_hours=0), NOW)
    assert text == "Last backup 2 h ago · no scheduled backups"
    assert "Scheduled backups are off" in tip


def test_projector_tip_gives_rate_lag_and_last_error() -> None:
    status = ProjectorStatus(
        checkpoint=1200, head=1207, lag=7, events_per_second=1234.6, running=True
    )
    tip = projector_tip(status)
    assert "Projector rate: 1,235 events/s" in tip
    assert "Lag: 7 events (list at #1,200, history at #1,207)" in tip
    assert "Last error: none" in tip
    failed = replace(status, last_error="disk full", running=False, events_per_second=0.0)
    tip = projector_tip(failed)
    assert "Last error: disk full" in tip and "could not be brought up to date" in tip
    assert "0 events/s (idle)" in tip


def test_status_bar_follows_backups_and_the_projector(
    qtbot: Any, real_app: RealApp, bridge: Any, tasks: Any, ui_settings: QSettings
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    label = win.status.backups
    qtbot.waitUntil(lambda: label.isVisible(), timeout=10000)
    assert label.text() == "No backup yet · next within minutes"
    assert str(real_app.path.parent / "backups") in label.toolTip()

    # Backup now (the menu): the label moves at once.
    win.tools.action_backup.trigger()
    qtbot.waitUntil(lambda: label.text().startswith("Last backup just now"), timeout=10000)
    assert "· next " in label.text()
    box = win.findChild(QMessageBox, "backupResult")
    if box is not None:
        box.close()

    # A scheduled backup (taken elsewhere, reported by the jobs through the bridge).
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    real_app.app.commands.run_maintenance(BackupNow())
    with qtbot.waitSignal(bridge.job_status, timeout=5000):
        bridge.publish_job_status("backup", object())
    qtbot.waitUntil(lambda: "2 backup(s)" in label.toolTip(), timeout=10000)

    # The projector's status: its rate, lag and last error in the freshness tooltip.
    status = real_app.catch_up()
    bridge.publish_projector_status(replace(status, events_per_second=4321.0))
    qtbot.waitUntil(lambda: "4,321 events/s" in win.status.freshness.toolTip(), timeout=5000)
    assert "Last error: none" in win.status.freshness.toolTip()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
