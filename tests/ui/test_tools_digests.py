"""Issue 11: Tools ▸ Export digest… and Check against a digest… in the GUI, end to end on a
real file (the file dialogs answered by the test; everything else real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop_app.ui.main_window import MainWindow
from tests.integration.store.test_verify_semantic import Desk
from tests.ui.conftest import RealApp, open_real_window


def _box(qtbot: Any, win: MainWindow, name: str) -> QMessageBox:
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, name) is not None, timeout=20000)
    box = win.findChild(QMessageBox, name)
    assert isinstance(box, QMessageBox)
    return box


def _answer(monkeypatch: pytest.MonkeyPatch, method: str, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, method, lambda *_a, **_k: (str(path), ""))


def test_export_then_check_a_digest(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    head = real_app.app.events.head_position()
    digest = tmp_path / "kept" / "desk-digest"
    digest.parent.mkdir()
    _answer(monkeypatch, "getSaveFileName", digest)
    win.tools.action_export_digest.trigger()
    box = _box(qtbot, win, "digestResult")
    written = digest.with_suffix(".json")  # a name without suffix gets .json
    assert "was saved" in box.text() and str(written) in box.text()
    assert f"#{head:,}" in box.informativeText()
    box.close()
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "digestResult") is None, timeout=5000)
    data = json.loads(written.read_text(encoding="utf-8"))
    assert data["format"] == "order-desk-digest" and data["head_position"] == head

    # More work, then the check: the log still extends the digest.
    from desktop_app.application.commands import RegisterCustomer

    real_app.app.commands.dispatch(RegisterCustomer(name="Digest Check Ltd"))
    _answer(monkeypatch, "getOpenFileName", written)
    win.tools.action_check_digest.trigger()
    box = _box(qtbot, win, "digestResult")
    assert "still extends" in box.text()
    added = real_app.app.events.head_position() - head
    assert added > 0 and f"{added:,} events were added since" in box.informativeText()
    box.close()
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "digestResult") is None, timeout=5000)

    # A digest of another history (same position, another hash): it does not hold.
    data["head_hash"] = "0" * 64
    written.write_text(json.dumps(data), encoding="utf-8")
    win.tools.action_check_digest.trigger()
    box = _box(qtbot, win, "digestResult")
    assert "no longer extends" in box.text()
    assert box.icon() == QMessageBox.Icon.Critical
    box.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_a_file_that_is_not_a_digest_is_named(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    other = tmp_path / "notes.json"
    other.write_text('{"hello": 1}', encoding="utf-8")
    _answer(monkeypatch, "getOpenFileName", other)
    win.tools.action_check_digest.trigger()
    box = _box(qtbot, win, "errorDialog")
    assert "is not an Order Desk digest file" in box.text()
    assert str(other) in box.text()
    box.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_no_digest_of_a_history_that_does_not_verify(
    qtbot: Any,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    desk = Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")
    desk.append_forged(desk.pending, "OrderDelivered", 1, {})
    app = bootstrap(Settings(db_path=desk.path, key_dir=desk.keys), source="test")
    try:
        win = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=ui_settings)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        digest = tmp_path / "digest.json"
        _answer(monkeypatch, "getSaveFileName", digest)
        win.tools.action_export_digest.trigger()
        box = _box(qtbot, win, "digestResult")
        assert box.text().startswith("No digest was saved")
        assert "could not have written" in box.text()
        assert not digest.exists()
        box.close()
        qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    finally:
        app.close()
