"""Tools ▸ Backup now and Tools ▸ Rebuild read models: maintenance commands sent through the
command bus on a worker, their results shown in the window."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.application import queries as q
from desktop_app.store.backup import list_backups
from desktop_app.ui import formatting as fmt

from .conftest import RealApp, open_real_window


def _backup_box() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == "backupResult" and widget.isVisible():
            assert isinstance(widget, QMessageBox)
            return widget
    return None


def test_backup_now_writes_a_backup_and_says_where(
    qtbot: Any, real_app: RealApp, bridge: Any, tasks: Any, ui_settings: QSettings
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    win.tools.backup_now()
    qtbot.waitUntil(lambda: _backup_box() is not None, timeout=20000)
    box = _backup_box()
    assert box is not None
    backups = list_backups(real_app.path.parent / "backups")
    assert len(backups) == 1
    assert str(backups[0].path) in box.text()
    assert win.tools.action_backup.isEnabled()
    box.close()


def test_rebuild_read_models_rebuilds_the_lists(
    qtbot: Any, real_app: RealApp, bridge: Any, tasks: Any, ui_settings: QSettings
) -> None:
    app = real_app.app
    head = app.events.head_position()
    listed_before = app.queries.ask(q.ListOrders(limit=100)).total
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    win.tools.start_rebuild()
    expected = f"Lists rebuilt from {fmt.format_int(head)} events."
    qtbot.waitUntil(lambda: win.statusBar().currentMessage() == expected, timeout=60000)
    assert app.queries.ask(q.ListOrders(limit=100)).total == listed_before > 0
