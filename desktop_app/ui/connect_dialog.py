"""File ▸ Connect to server…: open an Order Desk database on a PostgreSQL server (issue 10),
and the choice offered when the server cannot be reached at start.

The clerk types a ``postgresql://`` address or the name of a libpq service. Order Desk never
asks for, shows or keeps a password: libpq finds it in the user's password file
(``~/.pgpass``; ``%APPDATA%\\postgresql\\pgpass.conf`` on Windows), in the service file or in
the ``PGPASSWORD`` environment variable. An address with a password in it is refused here,
because addresses are remembered (Recent servers) in the user's settings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLayout,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.config import DatabaseLocation, LocationError, ServerLocation, parse_location

RECENT_SERVERS_KEY = "files/recentServers"
MAX_RECENT_SERVERS = 8
SERVICE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
DB_FILTER = "Order Desk databases (*.sqlite3 *.sqlite *.db);;All files (*)"

HELP_TEXT = (
    "Type the server's address, for example<br>"
    "<tt>postgresql://maria@db.office.lan:5432/orders</tt><br>"
    "with TLS: <tt>postgresql://maria@db.office.lan/orders?sslmode=verify-full</tt><br>"
    "or the name of a PostgreSQL service from your service file (<tt>~/.pg_service.conf</tt>)."
    "<br><br>"
    "Order Desk never asks for or keeps your password. PostgreSQL's own client finds it in "
    "your password file (<tt>~/.pgpass</tt>, on Windows "
    "<tt style='white-space:nowrap'>%APPDATA%\\postgresql\\pgpass.conf</tt>), "
    "in the service file, or in the "
    "<tt>PGPASSWORD</tt> environment variable. Ask your administrator for the address and "
    "your login."
)


def recent_servers(settings: QSettings) -> list[str]:
    """The remembered server addresses, newest first (never with a password)."""
    value = settings.value(RECENT_SERVERS_KEY, [])
    if isinstance(value, str):  # QSettings gives a single string for a one-item list
        value = [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and v]


def remember_server(settings: QSettings, location: ServerLocation) -> None:
    """Put the address first in Recent servers (a password is never written)."""
    if location.has_password:
        return
    kept = [u for u in recent_servers(settings) if u != location.url]
    settings.setValue(RECENT_SERVERS_KEY, [location.url, *kept][:MAX_RECENT_SERVERS])


def parse_server(text: str) -> ServerLocation:
    """The server named by what the clerk typed: a ``postgresql://`` URL or a service name.
    ``ValueError`` with a sentence for the clerk when it is neither, or holds a password."""
    text = text.strip()
    if not text:
        raise ValueError("Type the server's address or a service name.")
    if "://" not in text:
        if not SERVICE_NAME.fullmatch(text):
            raise ValueError(
                "That is neither an address (postgresql://user@host/database) nor a "
                "service name (letters, digits, '.', '_' or '-')."
            )
        text = f"postgresql://?service={quote(text, safe='')}"
    try:
        location = parse_location(text)
    except LocationError as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(location, ServerLocation):
        raise ValueError("A server address starts with postgresql://")
    if location.has_password:
        raise ValueError(
            "Leave the password out of the address: put it in your password file (~/.pgpass), "
            "the service file or PGPASSWORD. Order Desk remembers addresses and never keeps "
            "passwords."
        )
    return location


class ConnectDialog(QDialog):
    """Asks for a server address or service name; ``location`` after it was accepted."""

    def __init__(self, parent: QWidget | None, settings: QSettings) -> None:
        super().__init__(parent)
        self.setObjectName("connectDialog")
        self.setWindowTitle("Connect to server")
        self._settings = settings
        self.location: ServerLocation | None = None

        label = QLabel("&Server address or service name:")
        self.address = QComboBox()
        self.address.setObjectName("serverAddress")
        self.address.setEditable(True)
        self.address.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.address.addItems(recent_servers(settings))
        self.address.setCurrentIndex(-1 if not self.address.count() else 0)
        line = self.address.lineEdit()
        assert line is not None
        line.setPlaceholderText("postgresql://user@host:5432/database")
        line.setClearButtonEnabled(True)
        self.address.setMinimumContentsLength(42)
        label.setBuddy(self.address)

        self.error = QLabel()
        self.error.setObjectName("connectError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()

        self.help = QLabel(HELP_TEXT)
        self.help.setObjectName("connectHelp")
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.RichText)
        # Wide enough for the example addresses on one line each.
        self.help.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 50)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("&Connect")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        # The dialog grows when the error line appears: the help below is never clipped.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addWidget(label)
        layout.addWidget(self.address)
        layout.addWidget(self.error)
        layout.addSpacing(6)
        layout.addWidget(self.help)
        layout.addWidget(self.buttons)
        line.textEdited.connect(self._clear_error)
        self.address.setFocus()

    def _clear_error(self, _text: str) -> None:
        self.error.hide()

    def accept(self) -> None:
        """Check the address; an error is shown beside it and the dialog stays open."""
        try:
            location = parse_server(self.address.currentText())
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            self.adjustSize()
            return
        self.location = location
        remember_server(self._settings, location)
        super().accept()


def ask_server(parent: QWidget | None, settings: QSettings) -> ServerLocation | None:
    """Show the dialog (modal); the server chosen, or None when cancelled."""
    dialog = ConnectDialog(parent, settings)
    try:
        if dialog.exec() == QDialog.DialogCode.Accepted:
            return dialog.location
        return None
    finally:
        dialog.deleteLater()


def unreachable_box(text: str, location: ServerLocation) -> QMessageBox:
    """The start-up message for a server that cannot be used, with the other choices."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Order Desk cannot connect to the server",
        f"{text}\n\nServer: {location.display}\n\nNothing was changed. You can try another "
        "server, open a database file instead, or quit.",
    )
    box.setObjectName("serverUnreachable")
    another = box.addButton("Connect to &another server…", QMessageBox.ButtonRole.AcceptRole)
    another.setObjectName("chooseServer")
    file = box.addButton("Open a database &file…", QMessageBox.ButtonRole.AcceptRole)
    file.setObjectName("chooseFile")
    quit_ = box.addButton("&Quit", QMessageBox.ButtonRole.RejectRole)
    quit_.setObjectName("quit")
    box.setDefaultButton(another)
    box.setEscapeButton(quit_)
    return box


def choose_other_database(
    text: str, location: ServerLocation, settings: QSettings | None = None
) -> DatabaseLocation | None:
    """Tell the clerk the server cannot be used and let them pick another database: a
    server, a file, or None (quit)."""
    settings = settings or QSettings()
    box = unreachable_box(text, location)
    try:
        box.exec()
        clicked = box.clickedButton()
        name = clicked.objectName() if clicked is not None else "quit"
    finally:
        box.deleteLater()
    if name == "chooseServer":
        return ask_server(None, settings)
    if name == "chooseFile":
        chosen, _ = QFileDialog.getOpenFileName(None, "Open database", "", DB_FILTER)
        return Path(chosen) if chosen else None
    return None


__all__ = [
    "HELP_TEXT",
    "ConnectDialog",
    "ask_server",
    "choose_other_database",
    "parse_server",
    "recent_servers",
    "remember_server",
    "unreachable_box",
]
