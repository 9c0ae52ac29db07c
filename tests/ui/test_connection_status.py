"""The status bar says when the database does not answer (issue 10: a lost server
connection that the re-sends could not bridge) and clears once something works again."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

from desktop_app.application.ports import StoreConnectionLostError, StoreError
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.tasks import TaskRunner
from tests.ui.conftest import RealApp, open_real_window


def _lost() -> None:
    raise StoreConnectionLostError("The connection to the database server (orders) was lost.")


def _refused() -> None:
    raise StoreError("The database refused the change.")


def test_the_status_bar_says_the_database_is_not_answering_until_it_answers(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: QSettings
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings)
    label = win.status.connection
    assert not label.isVisible()
    errors: list[BaseException] = []

    with qtbot.waitSignal(tasks.store_unavailable):
        tasks.submit(_lost, lambda _r: None, errors.append)
    qtbot.waitUntil(lambda: len(errors) == 1)
    assert label.isVisible() and "not answering" in label.text()
    assert "was lost" in label.toolTip()

    # Another kind of failure says nothing about the connection.
    tasks.submit(_refused, lambda _r: None, errors.append)
    qtbot.waitUntil(lambda: len(errors) == 2)
    assert label.isVisible()

    with qtbot.waitSignal(tasks.store_available):
        tasks.submit(lambda: 1, lambda _r: None, errors.append)
    assert not label.isVisible()
