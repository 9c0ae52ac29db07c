"""File ▸ Connect to server… and the unreachable server at start (issue 10): a server address
or a libpq service name, never a password; an address that cannot be used is explained beside
the field; a server that cannot be reached at start is a clear message with the choice of
another server or a file (never a traceback), and the choice is what opens next."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop_app import __main__ as entry
from desktop_app.config import ServerLocation
from desktop_app.ui.connect_dialog import (
    ConnectDialog,
    choose_other_database,
    parse_server,
    recent_servers,
    unreachable_box,
)
from desktop_app.ui.files import DatabaseMenu

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/orders?connect_timeout=3"


@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logs and QSettings go to tmp_path, never to the real user's folders."""
    import desktop_app.config as config

    monkeypatch.setattr(config, "default_log_dir", lambda: tmp_path / "logs")
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    before = list(logging.getLogger().handlers)
    yield
    for handler in logging.getLogger().handlers:
        if handler not in before:
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_an_address_or_a_service_name_is_a_server_and_a_password_is_refused() -> None:
    assert parse_server(" postgresql://maria@db.office/orders?sslmode=verify-full ").url == (
        "postgresql://maria@db.office/orders?sslmode=verify-full"
    )
    assert parse_server("office-desk").url == "postgresql://?service=office-desk"
    for text, says in (
        ("", "Type the server's address"),
        ("db office", "neither an address"),
        ("mysql://x@y/z", "not a database this program can open"),
        ("postgresql://maria:secret@db.office/orders", "Leave the password out"),
        ("postgresql://maria@db.office/orders?password=secret", "Leave the password out"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_server(text)


def test_the_dialog_explains_a_bad_address_beside_the_field_and_stays_open(
    qtbot: Any, ui_settings: QSettings
) -> None:
    dialog = ConnectDialog(None, ui_settings)
    qtbot.addWidget(dialog)
    dialog.show()
    assert ".pgpass" in dialog.help.text() and "PGPASSWORD" in dialog.help.text()
    assert "never asks for or keeps your password" in dialog.help.text()
    line = dialog.address.lineEdit()
    assert line is not None
    qtbot.keyClicks(line, "postgresql://maria:secret@db.office/orders")
    dialog.accept()
    assert dialog.isVisible() and dialog.location is None
    assert dialog.error.isVisible() and "Leave the password out" in dialog.error.text()
    assert recent_servers(ui_settings) == []  # nothing with a password is ever written
    line.selectAll()
    qtbot.keyClicks(line, "postgresql://maria@db.office/orders")
    assert not dialog.error.isVisible()  # the message goes once the clerk types again
    with qtbot.waitSignal(dialog.accepted):
        dialog.accept()
    assert dialog.location == ServerLocation("postgresql://maria@db.office/orders")
    assert recent_servers(ui_settings) == ["postgresql://maria@db.office/orders"]

    again = ConnectDialog(None, ui_settings)  # the recent address is offered next time
    qtbot.addWidget(again)
    assert again.address.currentText() == "postgresql://maria@db.office/orders"


def _when_shown(name: str, act: Callable[[QWidget], None]) -> None:
    """Once the top-level widget ``name`` is on screen (a modal exec has started), act on it."""

    def poll() -> None:
        for widget in QApplication.topLevelWidgets():
            if widget.objectName() == name and widget.isVisible():
                act(widget)
                return
        QTimer.singleShot(10, poll)

    QTimer.singleShot(0, poll)


def _connect_to(address: str) -> Callable[[QWidget], None]:
    def act(widget: QWidget) -> None:
        assert isinstance(widget, ConnectDialog)
        line = widget.address.lineEdit()
        assert line is not None
        line.setText(address)
        widget.accept()

    return act


def test_file_menu_connect_to_server_asks_for_the_server_to_be_opened(
    qtbot: Any, ui_settings: QSettings
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    files = DatabaseMenu(parent, ui_settings, None)
    assert files.action_connect.text() == "&Connect to server…"
    _when_shown("connectDialog", _connect_to("postgresql://maria@db.office:5433/orders"))
    with qtbot.waitSignal(files.open_requested) as signal:
        files.action_connect.trigger()
    assert signal.args == [ServerLocation("postgresql://maria@db.office:5433/orders"), False]


def test_the_unreachable_server_box_offers_another_server_a_file_or_quit(
    qtbot: Any, ui_settings: QSettings
) -> None:
    server = ServerLocation(UNREACHABLE)
    box = unreachable_box("The database server cannot be reached.", server)
    qtbot.addWidget(box)
    names = {b.objectName() for b in box.buttons()}
    assert names == {"chooseServer", "chooseFile", "quit"}
    assert "Server: postgresql://nobody@127.0.0.1:1/orders" in box.text()
    assert "Nothing was changed" in box.text()

    def click(name: str) -> Callable[[QWidget], None]:
        def act(widget: QWidget) -> None:
            assert isinstance(widget, QMessageBox)
            button = widget.findChild(QWidget, name)
            assert button is not None
            button.click()  # type: ignore[attr-defined]

        return act

    _when_shown("serverUnreachable", click("quit"))
    assert choose_other_database("cannot be reached", server, ui_settings) is None

    _when_shown("serverUnreachable", click("chooseServer"))
    _when_shown("connectDialog", _connect_to("office"))
    chosen = choose_other_database("cannot be reached", server, ui_settings)
    assert chosen == ServerLocation("postgresql://?service=office")


def test_an_unreachable_server_at_start_is_a_message_and_the_choice_opens_next(
    qtbot: Any, tmp_path: Path
) -> None:
    shown: list[tuple[str, str]] = []
    asked: list[tuple[str, Any]] = []
    other = tmp_path / "orders.sqlite3"

    def choose(text: str, server: Any) -> Any:
        asked.append((text, server))
        return other

    switch: dict[str, Any] = {}
    rc = entry.run(
        ["--db", UNREACHABLE],
        show_error=lambda t, m: shown.append((t, m)),
        exec_loop=False,
        switch_to=switch,
        choose=choose,
    )
    assert rc == entry.EXIT_OPEN_FAILED
    assert not shown  # the choice box replaces the plain error box
    ((text, server),) = asked
    assert "cannot be reached" in text and "Traceback" not in text
    assert server == ServerLocation(UNREACHABLE)
    assert switch["db"] == other
    args, notice = entry.switch_database(["--db", UNREACHABLE, "--read-only"], switch)
    assert args == ["--db", str(other)] and notice is None

    # Choosing another server: the next run gets its URL as --db.
    switch = {"db": ServerLocation("postgresql://maria@db.office/orders")}
    args, _ = entry.switch_database(["--db", UNREACHABLE], switch)
    assert args == ["--db", "postgresql://maria@db.office/orders"]


def test_quitting_at_the_unreachable_server_box_opens_nothing(qtbot: Any) -> None:
    switch: dict[str, Any] = {}
    rc = entry.run(
        ["--db", UNREACHABLE],
        show_error=lambda t, m: None,
        exec_loop=False,
        switch_to=switch,
        choose=lambda text, server: None,
    )
    assert rc == entry.EXIT_OPEN_FAILED and switch == {}


def test_a_malformed_db_address_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        entry.run(["--db", "postgresql://maria@db:notaport/orders"], exec_loop=False)
    assert "not a valid PostgreSQL URL" in capsys.readouterr().err
