"""Issue 11: Tools ▸ Restore from backup… — the backup is checked, the confirmation says what
will happen, the CLI's refusals (R25, R29) are shown in words, and a confirmed restore closes
the database, puts the backup in place and opens the restored file again."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop_app import __main__ as entry
from desktop_app.application.commands import BackupNow, RegisterCustomer
from desktop_app.ui.main_window import MainWindow
from tests.ui.conftest import RealApp, open_real_window


def _box(qtbot: Any, win: MainWindow, name: str) -> QMessageBox:
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, name) is not None, timeout=20000)
    box = win.findChild(QMessageBox, name)
    assert isinstance(box, QMessageBox)
    return box


def _choose(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    """Answer the open-file dialog with ``path``; returns the folders it was opened in."""
    opened_in: list[str] = []

    def answer(_parent: Any, _title: str, folder: str, _filter: str) -> tuple[str, str]:
        opened_in.append(folder)
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer)
    return opened_in


def test_a_checked_backup_is_confirmed_with_what_will_happen(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = real_app.app
    backup = Path(app.commands.run_maintenance(BackupNow()))
    events = app.events.head_position()
    app.commands.dispatch(RegisterCustomer(name="After The Backup"))
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    opened_in = _choose(monkeypatch, backup)
    requested: list[str] = []
    win.restore_requested.connect(requested.append)
    win.tools.action_restore.trigger()
    box = _box(qtbot, win, "restoreConfirm")
    assert opened_in == [str(backup.parent)]  # the dialog starts in the backups folder
    assert backup.name in box.text()
    details = box.informativeText()
    assert f"{events:,} events" in details and "passed every check" in details
    assert str(real_app.path) in details and "before-restore" in details
    restore = next(b for b in box.buttons() if b.objectName() == "restoreButton")
    with qtbot.waitSignal(win.restore_requested, timeout=5000) as blocker:
        restore.click()
    assert blocker.args == [str(backup)]
    assert requested == [str(backup)]
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_cancelling_the_confirmation_restores_nothing(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backup = Path(real_app.app.commands.run_maintenance(BackupNow()))
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    _choose(monkeypatch, backup)
    requested: list[str] = []
    win.restore_requested.connect(requested.append)
    win.tools.action_restore.trigger()
    box = _box(qtbot, win, "restoreConfirm")
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "restoreConfirm") is None, timeout=5000)
    assert requested == []
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


@pytest.mark.parametrize("kind", ["not a database", "the database itself", "broken chain"])
def test_a_backup_that_cannot_be_restored_is_refused_in_words(
    qtbot: Any,
    real_app: RealApp,
    bridge: Any,
    tasks: Any,
    ui_settings: QSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
) -> None:
    app = real_app.app
    if kind == "not a database":
        chosen = tmp_path / "notes.sqlite3"
        chosen.write_bytes(b"not a database at all" * 100)
        expected = "cannot be restored"
    elif kind == "the database itself":
        chosen = real_app.path
        expected = "The backup and the database are the same file"
    else:
        chosen = Path(app.commands.run_maintenance(BackupNow()))
        # An edit outside the program: the triggers dropped, an event's payload changed.
        con = sqlite3.connect(chosen, isolation_level=None)
        try:
            for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
                con.execute(f'DROP TRIGGER "{name}"')
            con.execute("UPDATE events SET payload = '{}' WHERE position = 2")
        finally:
            con.close()
        expected = "cannot be restored"
    before = real_app.path.read_bytes()
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    _choose(monkeypatch, chosen)
    requested: list[str] = []
    win.restore_requested.connect(requested.append)
    win.tools.action_restore.trigger()
    box = _box(qtbot, win, "restoreRefused")
    assert "nothing was changed" in box.text()
    assert expected in box.informativeText()
    assert requested == []
    assert win.findChild(QMessageBox, "restoreConfirm") is None
    box.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    assert real_app.path.read_bytes() == before


def test_restore_is_off_on_a_read_only_database(
    qtbot: Any, list_queries: Any, bridge: Any, tasks: Any, read_only_info: Any
) -> None:
    app = list_queries.app
    win = MainWindow(app.commands, list_queries, bridge, tasks, read_only_info)
    qtbot.addWidget(win)
    assert not win.tools.action_restore.isEnabled()
    assert "read-only" in win.tools.action_restore.toolTip()


# --- end to end through the entry point ---------------------------------------------------


@pytest.fixture
def _user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import desktop_app.config as config

    monkeypatch.setattr(config, "default_log_dir", lambda: tmp_path / "logs")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    before = list(logging.getLogger().handlers)
    yield
    for handler in logging.getLogger().handlers:
        if handler not in before:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _head(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT max(position) FROM events").fetchone()[0])
    finally:
        con.close()


@pytest.mark.usefixtures("_user_folders")
def test_a_confirmed_restore_reopens_the_restored_file(qtbot: Any, tmp_path: Path) -> None:
    from desktop_app.application import commands as c
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    path = tmp_path / "orders.sqlite3"
    app = bootstrap(Settings.default(path), source="test")
    try:
        app.commands.dispatch(
            c.AddProduct(sku="R-1", name="Restored", price=Decimal("1.00"), currency="EUR")
        )
        backup = str(app.commands.run_maintenance(BackupNow()))
        app.commands.dispatch(RegisterCustomer(name="Lost In The Restore"))
    finally:
        app.close()
    in_backup, newer = _head(Path(backup)), _head(path)
    assert newer > in_backup

    args = ["--db", str(path), "--no-sample-offer"]
    switch_to: dict[str, Any] = {}
    rc = entry.run(
        args,
        exec_loop=False,
        switch_to=switch_to,
        on_window=lambda window: window.restore_requested.emit(backup),
    )
    assert rc == 0 and switch_to["restore"] == Path(backup)
    args, notice = entry.switch_database(args, switch_to)
    assert notice is not None and notice[0], notice
    assert _head(path) == in_backup
    kept = list(tmp_path.glob("orders.sqlite3.before-restore-*"))
    assert len([k for k in kept if not k.name.endswith(("-wal", "-shm"))]) == 1

    shown: dict[str, str] = {}

    def look(window: Any) -> None:
        box = window.findChild(QMessageBox, "restoreResult")
        shown["text"] = box.text() if box is not None else ""
        shown["db"] = window.store_info.location
        if box is not None:
            box.close()  # the window goes away with this run; so must its box

    assert entry.run(args, exec_loop=False, notice=notice, on_window=look) == 0
    assert "was restored from" in shown["text"] and Path(backup).name in shown["text"]
    assert "before-restore" in shown["text"]
    assert Path(shown["db"]) == path
