"""Issue 11: Order ▸ Export audit bundle… writes the selected order's bundle through the bus
(the same code as ``desktop-app-admin audit-bundle``), its PDF drawn on the GUI thread; the
result says what it holds and that it passes the check; a file that is not a bundle is never
overwritten."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop_app.ui.main_window import MainWindow
from tests.ui.conftest import RealApp, open_real_window


def _box(qtbot: Any, win: MainWindow, name: str) -> QMessageBox:
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, name) is not None, timeout=30000)
    box = win.findChild(QMessageBox, name)
    assert isinstance(box, QMessageBox)
    return box


def _select_first(qtbot: Any, win: MainWindow) -> tuple[str, str]:
    item = win.orders.model.row_at(0)
    assert item is not None
    assert win.orders.select_order(item.order_id)
    qtbot.waitUntil(lambda: win.current.order_id == item.order_id, timeout=5000)
    return item.order_id, item.order_number


def test_export_audit_bundle_of_the_selected_order(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop_app.application.audit_bundle_check import check_bundle
    from desktop_app.store.evidence import StoreBundleCrypto

    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    win.order_menu.sync()
    assert win.audit_bundle.action in win.order_menu.actions()
    order_id, number = _select_first(qtbot, win)
    suggested: list[str] = []

    def answer(_parent: Any, _title: str, name: str, _filter: str) -> tuple[str, str]:
        suggested.append(name)
        return str(tmp_path / "evidence"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer)
    win.audit_bundle.action.trigger()
    box = _box(qtbot, win, "auditBundleResult")
    out = tmp_path / "evidence.zip"
    assert suggested == [f"{number}-audit-bundle.zip"]
    assert number in box.text() and str(out) in box.text()
    events = len(real_app.app.events.read_stream(f"order-{order_id}"))
    assert f"{events:,} events" in box.informativeText()
    assert "passes the bundle check" in box.informativeText()
    box.close()
    report = check_bundle(out, StoreBundleCrypto(real_app.app.settings.effective_key_dir))
    assert report.ok, report.failures
    with zipfile.ZipFile(out) as zf:
        assert any(name.endswith(".pdf") for name in zf.namelist())
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_a_file_that_is_not_a_bundle_is_not_overwritten(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    _select_first(qtbot, win)
    precious = tmp_path / "precious.zip"
    precious.write_bytes(b"not a bundle")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(precious), ""))
    win.audit_bundle.action.trigger()
    box = _box(qtbot, win, "errorDialog")
    assert "exists and is not an audit bundle; it was not overwritten" in box.text()
    assert precious.read_bytes() == b"not a bundle"
    box.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_without_a_selected_order_it_says_so(
    qtbot: Any, real_app: RealApp, bridge: Any, tasks: Any, ui_settings: QSettings
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    win.current.select(None)
    win.audit_bundle.action.trigger()
    assert "Select an order" in win.statusBar().currentMessage()
