"""R27 and issue 11 in the GUI: Tools ▸ Verify lists what it found by position, order number
and version; a finding opens its order at that version; Cancel stops the check and the
result says where — never "intact"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtWidgets import QProgressDialog, QPushButton

from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.tasks import TaskRunner
from desktop_app.ui.verify_dialog import VerifyResultDialog
from tests.integration.store.test_verify_semantic import Desk


@pytest.fixture
def forged(tmp_path: Path) -> Iterator[tuple[Desk, int, Any]]:
    """A desk with an illegal event forged onto the pending order (chain recomputed), the
    app on it with its lists caught up."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    desk = Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")
    position = desk.append_forged(desk.pending, "OrderDelivered", 1, {})
    app = bootstrap(Settings(db_path=desk.path, key_dir=desk.keys), source="test")
    try:
        app.projector.run_once()
        yield desk, position, app
    finally:
        app.close()


def _window(qtbot: Any, app: Any, bridge: Any, tasks: Any, settings: QSettings) -> MainWindow:
    win = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


def _result(qtbot: Any, win: MainWindow) -> VerifyResultDialog:
    qtbot.waitUntil(
        lambda: win.findChild(VerifyResultDialog, "verifyResult") is not None, timeout=20000
    )
    dialog = win.findChild(VerifyResultDialog, "verifyResult")
    assert isinstance(dialog, VerifyResultDialog)
    return dialog


def test_tools_verify_names_a_forged_event(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, forged: Any
) -> None:
    desk, position, app = forged
    win = _window(qtbot, app, bridge, tasks, ui_settings)
    win.tools.action_verify.trigger()
    dialog = _result(qtbot, win)
    assert "could not have written" in dialog.headline.text()
    assert "Every hash matches" in dialog.details.text()
    table = dialog.table
    number = desk.numbers[desk.pending]
    rows = [
        [table.item(row, column).text() for column in range(table.columnCount())]
        for row in range(table.rowCount())
    ]
    assert [f"#{position:,}", number, "v3", "OrderDelivered"] in [row[:4] for row in rows]
    dialog.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_a_finding_row_opens_its_order_at_that_version(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, forged: Any
) -> None:
    desk, position, app = forged
    win = _window(qtbot, app, bridge, tasks, ui_settings)
    with qtbot.waitSignal(win.orders.model.loaded, timeout=10000):
        win.start()
    # Another order is selected and shown first: the finding must move everything.
    assert win.orders.select_order(desk.confirmed)
    qtbot.waitUntil(lambda: win.current.order_id == desk.confirmed, timeout=5000)
    win.tools.action_verify.trigger()
    dialog = _result(qtbot, win)
    row = next(i for i, finding in enumerate(dialog.findings) if finding.position == position)
    dialog.table.selectRow(row)
    assert dialog.open_button.isEnabled()
    dialog.open_button.click()
    # The order's audit view opens with the card holding the forged version selected.
    qtbot.waitUntil(lambda: win.audit.active and win.audit.view is not None, timeout=10000)
    view = win.audit.view
    assert view is not None
    qtbot.waitUntil(
        lambda: (
            view.audit is not None
            and view.audit.order_id == desk.pending
            and view.canvas.current is not None
        ),
        timeout=10000,
    )
    row = view.canvas.rows[view.canvas.current or 0]
    card = view.canvas.cards[row.card]
    assert card.first.version <= 3 <= card.last.version
    assert win.current.order_id == desk.pending
    dialog.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_cancel_stops_verify_and_never_says_intact(
    qtbot: Any, bridge: Any, ui_settings: QSettings, forged: Any
) -> None:
    """The verify waits behind a job on a one-thread pool, so Cancel is pressed before its
    first chunk: deterministic, no timing."""
    _desk, _position, app = forged
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    tasks = TaskRunner(pool=pool)
    win = _window(qtbot, app, bridge, tasks, ui_settings)
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    gate = threading.Event()
    tasks.submit(lambda: gate.wait(30), lambda _r: None, lambda _e: None)
    win.tools.action_verify.trigger()
    progress = win.tools.verify_progress
    assert isinstance(progress, QProgressDialog) and progress.isVisible()
    button = progress.findChild(QPushButton)
    assert button is not None and button.isEnabled()
    button.click()
    assert "Cancelling" in progress.labelText()
    assert progress.isVisible()  # stays until the check has stopped
    gate.set()
    dialog = _result(qtbot, win)
    assert dialog.state == "cancelled"
    assert "cancelled at event #0" in dialog.headline.text()
    assert "intact" not in dialog.headline.text() and "intact" not in dialog.details.text()
    assert not dialog.verify_result.ok
    dialog.close()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    tasks.wait_idle(10000)
