"""File ▸ New database… / Open database… / Connect to server… / Open recent: which database
the window shows.

The window does not switch databases itself: it asks (``open_requested``) and the entry point
closes this database cleanly (jobs stopped, last results delivered) and opens the other one.
Recent databases are remembered in the user's settings, newest first.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

RECENT_KEY = "files/recentDatabases"
MAX_RECENT = 8
DB_FILTER = "Order Desk databases (*.sqlite3 *.sqlite *.db);;All files (*)"


def recent_databases(settings: QSettings) -> list[Path]:
    """The remembered databases, newest first."""
    value = settings.value(RECENT_KEY, [])
    if isinstance(value, str):  # QSettings gives a single string for a one-item list
        value = [value]
    if not isinstance(value, list):
        return []
    return [Path(v) for v in value if isinstance(v, str) and v]


def remember_database(settings: QSettings, path: Path) -> None:
    """Put ``path`` first in the recent list (once, at most MAX_RECENT kept)."""
    path = path.absolute()
    paths = [p for p in recent_databases(settings) if p != path]
    settings.setValue(RECENT_KEY, [str(p) for p in [path, *paths][:MAX_RECENT]])


class DatabaseMenu(QObject):
    """The File menu's database items; emits ``open_requested(path, create)`` (``path`` is a
    ``config.ServerLocation`` for a server chosen with Connect to server…)."""

    open_requested = Signal(object, bool)

    def __init__(self, parent: QWidget, settings: QSettings, current: Path | None) -> None:
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self._current = current.absolute() if current else None
        self.action_new = QAction("New &database…", parent)
        self.action_new.setObjectName("actionNewDatabase")
        self.action_new.setStatusTip("Create a new, empty Order Desk database and open it")
        self.action_new.triggered.connect(self.ask_new)
        self.action_open = QAction("&Open database…", parent)
        self.action_open.setObjectName("actionOpenDatabase")
        self.action_open.setShortcut("Ctrl+O")
        self.action_open.setStatusTip("Open another Order Desk database")
        self.action_open.triggered.connect(self.ask_open)
        self.action_connect = QAction("&Connect to server…", parent)
        self.action_connect.setObjectName("actionConnectServer")
        self.action_connect.setStatusTip(
            "Open the office's shared Order Desk database on a PostgreSQL server"
        )
        self.action_connect.triggered.connect(self.ask_server)
        self.recent_menu = QMenu("Open &recent", parent)
        self.recent_menu.setObjectName("menuRecentDatabases")
        self.recent_menu.aboutToShow.connect(self.fill_recent)
        self.fill_recent()

    def set_current(self, path: Path) -> None:
        """The database now shown; remembered as the most recent."""
        self._current = path.absolute()
        remember_database(self._settings, self._current)
        self.fill_recent()

    def fill_recent(self) -> None:
        """Rebuild the Open recent submenu (a file that is gone is listed, disabled)."""
        self.recent_menu.clear()
        entries = [p for p in recent_databases(self._settings) if p != self._current]
        for number, path in enumerate(entries, start=1):
            action = self.recent_menu.addAction(f"&{number} {path.name} — {path.parent}")
            action.setObjectName(f"recentDatabase{number}")
            action.setData(str(path))
            if path.exists():
                action.triggered.connect(lambda _c=False, p=path: self.request(p, create=False))
            else:
                action.setEnabled(False)
                action.setText(action.text() + " (missing)")
        if not entries:
            none = self.recent_menu.addAction("No other recent databases")
            none.setEnabled(False)

    def request(self, path: Path, *, create: bool) -> None:
        """Ask for ``path`` to be opened (created first when ``create``)."""
        path = path.absolute()
        if path == self._current:
            return
        self.open_requested.emit(path, create)

    def ask_open(self) -> None:
        """Choose an existing database file."""
        start = str(self._current.parent) if self._current else ""
        name, _ = QFileDialog.getOpenFileName(self._parent, "Open database", start, DB_FILTER)
        if name:
            self.request(Path(name), create=False)

    def ask_server(self) -> None:
        """Choose a server (File ▸ Connect to server…)."""
        # Imported when used: the dialog is not on the start-up path.
        from desktop_app.ui.connect_dialog import ask_server

        location = ask_server(self._parent, self._settings)
        if location is not None:
            self.open_requested.emit(location, False)

    def ask_new(self) -> None:
        """Choose where a new database goes; an existing file is never overwritten."""
        start = str(self._current.parent / "orders.sqlite3") if self._current else ""
        name, _ = QFileDialog.getSaveFileName(
            self._parent,
            "New database",
            start,
            DB_FILTER,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not name:
            return
        path = Path(name)
        if not path.suffix:
            path = path.with_suffix(".sqlite3")
        if path.exists():
            QMessageBox.information(
                self._parent,
                "New database",
                f"{path} already exists; Order Desk never overwrites a database. "
                "Use File ▸ Open database… to open it, or choose another name.",
            )
            return
        self.request(path, create=True)
