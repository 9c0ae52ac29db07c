"""R27 in the GUI: Tools ▸ Verify lists what the replay found, by position, order and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from desktop_app.ui.main_window import MainWindow
from tests.integration.store.test_verify_semantic import Desk


def test_tools_verify_names_a_forged_event(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, tmp_path: Path
) -> None:
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    desk = Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")
    position = desk.append_forged(desk.pending, "OrderDelivered", 1, {})
    app = bootstrap(Settings(db_path=desk.path, key_dir=desk.keys), source="test")
    try:
        win = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=ui_settings)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        win.tools.action_verify.trigger()
        qtbot.waitUntil(
            lambda: win.findChild(QMessageBox, "verifyResult") is not None, timeout=20000
        )
        box = win.findChild(QMessageBox, "verifyResult")
        assert "could not have written" in box.text()
        number = desk.numbers[desk.pending]
        assert f"#{position:,} {number} v3 OrderDelivered: " in box.informativeText()
        assert "Every hash matches" in box.informativeText()
        box.close()
        qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    finally:
        app.close()
