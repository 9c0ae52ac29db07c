"""The audit view (issue 11), driven as an auditor would: the mode toggles from the window,
cards group by command, a long run is folded and expands, jumps to a version and a date, and
an event edited in the file is drawn red with its reason. Real SQLite files, offscreen Qt."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate, QPoint, QSettings, Qt

from desktop_app.ui.audit.canvas import card_lines, card_title
from desktop_app.ui.audit.view import AuditView
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.tasks import TaskRunner

from .audit_data import START, AuditOrder, open_order
from .conftest import RealApp, open_real_window


@pytest.fixture
def order(tmp_path: Path) -> Iterator[AuditOrder]:
    yield from open_order(tmp_path)


def _view(qtbot: Any, tasks: TaskRunner, order: AuditOrder) -> AuditView:
    view = AuditView(tasks)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.set_queries(order.app.queries)
    view.show()
    # The history shows first, its verdicts follow on their own: wait for both.
    with qtbot.waitSignals([view.loaded, view.checked], timeout=10000, order="strict"):
        view.show_order(order.order_id)
    assert view.audit is not None and view.audit.checked
    return view


def test_the_mode_toggles_from_the_window_and_esc_returns(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: QSettings
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    action = win.findChild(type(win.audit.action), "actionAuditView")
    assert action is win.audit.action and action.shortcut().toString() == "Ctrl+Shift+A"
    view_menu = win.menuBar().findChild(type(win.menuBar().actions()[0].menu()), "menuView")
    assert action in view_menu.actions()
    # Without a selected order the mode does not open, and says why.
    action.trigger()
    assert not win.audit.active
    assert "Select an order first" in win.statusBar().currentMessage()

    order_id = win.orders.model.row_at(0).order_id
    assert win.orders.select_order(order_id)
    list_width = win.orders.width()
    action.trigger()
    view = win.audit.view
    assert view is not None
    qtbot.waitUntil(lambda: view.audit is not None and view.audit.order_id == order_id)
    assert win.audit.active and not win.tabs.isVisible() and action.isChecked()
    qtbot.waitUntil(lambda: win.orders.width() <= 260)  # the list is a narrow strip
    assert view.width() > 900

    qtbot.keyClick(view.canvas, Qt.Key.Key_Escape)
    assert not win.audit.active and win.tabs.isVisible() and not action.isChecked()
    qtbot.waitUntil(lambda: abs(win.orders.width() - list_width) <= 2)

    action.trigger()  # the same action opens it again and closes it
    assert win.audit.active
    action.trigger()
    assert not win.audit.active


def test_cards_group_by_command_and_a_long_run_folds_and_expands(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    audit = view.audit
    assert audit is not None
    user, host = audit.events[0].user, audit.events[0].host
    assert [card_title(card) for card in audit.cards] == [
        f"Place order · by {user} on {host} · 2 events",
        f"12 quantity changes · by {user} on {host}",
        f"Confirm · by {user} on {host} · 1 event",
    ]
    assert (
        card_lines(audit.cards[0], "EUR")[1][0]
        == "Added Clerk mug (MUG-CLK): 3 × 4.50 EUR, +13.50 EUR"
    )
    canvas = view.canvas
    cards_before = [row for row in canvas.rows if row.kind != "day"]
    assert len(cards_before) == 3
    assert {row.kind for row in canvas.rows} == {"day", "card"}  # days separate the cards

    # A click on the folded run expands it in place: each change becomes a row of its own.
    run_row = canvas.rows[canvas.card_row(1)]
    view.scroll_area.ensureVisible(0, run_row.y + 5)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, run_row.y + 5))
    events = [row.event for row in canvas.rows if row.kind == "event"]
    assert [ev.summary for ev in events][:2] == [
        "Clerk mug (MUG-CLK): 3 → 4, +4.50 EUR",
        "Clerk mug (MUG-CLK): 4 → 5, +4.50 EUR",
    ]
    assert len(events) == 12
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # and folds again
    assert not [row for row in canvas.rows if row.kind == "event"]


def test_jump_to_a_version_opens_its_run_and_shows_its_details(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    assert view.jump_to_version(9)
    canvas = view.canvas
    row = canvas.rows[canvas.current or 0]
    assert row.event is not None and row.event.version == 9
    assert "Clerk mug (MUG-CLK): 9 → 10" in view.details.toPlainText()
    assert row.event.event_id in view.details.toPlainText()  # ids live in the details pane
    bar = view.scroll_area.verticalScrollBar()
    assert bar.value() <= row.y <= bar.value() + view.scroll_area.viewport().height()
    assert not view.jump_to_version(99)
    # Then the order document before and after that change, read in the background.
    qtbot.waitUntil(lambda: view.document is not None)
    (line,) = view.document.lines
    assert (line.before, line.after) == ("9 × 4.50 EUR = 40.50 EUR", "10 × 4.50 EUR = 45.00 EUR")
    assert "The order document, v8 → v9" in view.details.toPlainText()


def test_jump_to_a_date_lands_on_that_days_first_event(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    audit = view.audit
    assert audit is not None
    wanted = (START + timedelta(days=1)).astimezone().date()
    first_that_day = next(ev for ev in audit.events if ev.recorded_at.astimezone().date() >= wanted)
    assert view.jump_to_date(QDate(wanted.year, wanted.month, wanted.day))
    row = view.canvas.rows[view.canvas.current or 0]
    shown = row.event if row.event is not None else view.canvas.cards[row.card].first
    assert shown == first_that_day
    # The scrubber follows: dragging it to the end shows the last card.
    view.scrubber.setValue(view.scrubber.maximum())
    bar = view.scroll_area.verticalScrollBar()
    last = view.canvas.rows[-1]
    assert bar.value() + view.scroll_area.viewport().height() >= last.y


def test_an_event_edited_in_the_file_is_drawn_red_with_its_reason(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    con = sqlite3.connect(order.path, isolation_level=None)
    for (name,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='events'"
    ).fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    stream = f"order-{order.order_id}"
    (payload,) = con.execute(
        "SELECT payload FROM events WHERE stream_id = ? AND version = 6", (stream,)
    ).fetchone()
    data = json.loads(payload)
    data["quantity"] = 70
    con.execute(
        "UPDATE events SET payload = ? WHERE stream_id = ? AND version = 6",
        (json.dumps(data, separators=(",", ":"), sort_keys=True), stream),
    )
    con.close()

    view = _view(qtbot, tasks, order)
    audit = view.audit
    assert audit is not None and audit.checked and audit.problems == 1
    bad_cards = [card for card in audit.cards if card.bad]
    assert len(bad_cards) == 1 and bad_cards[0].kind == "command"  # never hidden in a run
    lines = card_lines(bad_cards[0], "EUR")
    assert lines[0] == ("Clerk mug (MUG-CLK): 6 → 70, +288.00 EUR", False)
    assert lines[-1][1] and "altered after it was recorded" in lines[-1][0]
    assert "fail a check" in view.integrity.text()
    assert view.jump_to_version(6)
    assert "altered after it was recorded" in view.details.toPlainText()
    # Drawn red: the card's border and reason are painted in the alarm colour.
    row = view.canvas.rows[view.canvas.current or 0]
    image = view.canvas.grab().toImage()
    reds = sum(
        1
        for x in range(100, min(view.canvas.width(), 700), 3)
        for y in range(row.y, row.y + row.height, 2)
        if image.pixelColor(x, y).name() == "#b91c1c"
    )
    assert reds > 20


def test_the_verdicts_arrive_without_folding_what_the_auditor_opened(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = AuditView(tasks)
    qtbot.addWidget(view)
    view.set_queries(order.app.queries)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.show_order(order.order_id)
    assert view.audit is not None and not view.audit.checked
    assert view.integrity.text() == "checking…"
    # The check was only sent when the history arrived: nothing of it is shown yet.
    assert view.jump_to_version(8)
    with qtbot.waitSignal(view.checked, timeout=10000):
        pass
    assert view.audit.checked and "chain and rules hold" in view.integrity.text()
    canvas = view.canvas
    assert canvas.expanded == {1}
    row = canvas.rows[canvas.current or 0]
    assert row.event is not None and row.event.version == 8


def test_a_finding_opens_the_audit_view_at_its_event(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: QSettings
) -> None:
    """What Tools ▸ Verify's "open" calls: the order's audit view at the finding's version,
    even for an order the list does not show on its current page."""
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    stream = next(real_app.app.events.iter_stream_ids("order-"))
    order_id = stream.removeprefix("order-")
    assert win.audit.open_at(order_id, 2)
    view = win.audit.view
    assert view is not None
    qtbot.waitUntil(lambda: view.canvas.current is not None)
    assert view.audit is not None and view.audit.order_id == order_id
    row = view.canvas.rows[view.canvas.current or 0]
    card = view.canvas.cards[row.card]
    assert card.first.version <= 2 <= card.last.version  # the card holding v2 is selected
