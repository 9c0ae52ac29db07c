"""The log-wide event browser in the GUI (issue 11), real widgets on a real file: View ▸ Event
browser shows the newest page with refused commands as grey rows, the filter bar narrows it
(and refuses a window that ends before it starts, changing nothing), Older/Newer page by key,
and a row opens its order's audit view at that event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QMenu

from desktop_app.application import commands as c
from desktop_app.application.event_browser import LogRow
from desktop_app.application.ports import EventMetadata, NewEvent
from desktop_app.domain.errors import DomainError
from desktop_app.ui.browser.filter_bar import FilterBar
from desktop_app.ui.browser.model import COLUMNS
from desktop_app.ui.browser.window import PAGE_ROWS, EventBrowser
from desktop_app.ui.main_window import MainWindow
from tests.ui.audit_data import AuditOrder, build

WHAT = [key for key, _ in COLUMNS].index("what")
USER = [key for key, _ in COLUMNS].index("user")


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[AuditOrder, str]]:
    """The audit data (one order, 120 quantity changes, over two weeks), one refused command,
    and a second order placed by maria at WS-3 (written with her metadata)."""
    order = build(tmp_path / "browse.sqlite3", changes=120)
    app = order.app
    with pytest.raises(DomainError):
        app.commands.dispatch(c.DeliverOrder(order_id=order.order_id))  # confirmed, not shipped
    meta = EventMetadata(
        correlation_id="corr-maria",
        causation_id="cmd-maria",
        user="maria",
        host="WS-3",
        app_version="1.0",
        source="gui",
    )
    placed = {
        "order_id": "om",
        "order_number": "SO-0009999",
        "customer_id": "c",
        "customer_name": "Kaffeehaus Maria GmbH",
        "currency": "EUR",
    }
    app.events.append(
        "order-om",
        0,
        [NewEvent(event_id="e-m1", type_name="OrderPlaced", schema_version=1, payload=placed,
                  metadata=meta)],
        command_id="cmd-maria",
    )  # fmt: skip
    app.projector.run_once()
    try:
        yield order, "om"
    finally:
        app.close()


def _window(qtbot: Any, app: Any, bridge: Any, tasks: Any, settings: QSettings) -> MainWindow:
    win = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


def _browser(qtbot: Any, win: MainWindow) -> EventBrowser:
    action = win.findChild(type(win.event_browser.action), "actionEventBrowser")
    assert action is win.event_browser.action
    assert action.shortcut().toString() == "Ctrl+Shift+E"
    view_menu = next(m for m in win.menuBar().findChildren(QMenu) if m.objectName() == "menuView")
    assert action in view_menu.actions()
    action.trigger()
    browser = win.event_browser.browser
    assert browser is not None and browser.isVisible()
    qtbot.waitUntil(lambda: browser.page is not None and browser.status.text() == "", timeout=10000)
    return browser


def _rows(browser: EventBrowser) -> tuple[LogRow, ...]:
    return browser.model.rows


def test_opens_on_the_newest_page_with_refused_commands_grey(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, desk: Any
) -> None:
    order, _ = desk
    win = _window(qtbot, order.app, bridge, tasks, ui_settings)
    browser = _browser(qtbot, win)
    rows = _rows(browser)
    assert len(rows) == PAGE_ROWS
    assert [r.key for r in rows] == sorted((r.key for r in rows), reverse=True)
    assert rows[0].subject == "Order SO-0009999" and rows[0].user == "maria"
    refused = next(i for i, r in enumerate(rows) if r.kind == "rejection")
    model = browser.model
    what = model.index(refused, WHAT)
    assert model.data(what) == "Refused · deliver order"
    brush = model.data(what, Qt.ItemDataRole.ForegroundRole)
    assert isinstance(brush, QBrush) and brush.color().name() == "#6b6b6b"
    assert "not an event" in str(model.data(what, Qt.ItemDataRole.ToolTipRole))
    assert model.data(model.index(0, WHAT), Qt.ItemDataRole.ForegroundRole) is None
    # Business language: the quantity changes name the product.
    change = next(r for r in rows if r.type_name == "OrderLineQuantityChanged")
    assert change.summary.startswith("Clerk mug (MUG-CLK): ")
    assert browser.older_button.isEnabled() and not browser.newer_button.isEnabled()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_filter_by_user_and_refuse_a_backwards_window(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, desk: Any
) -> None:
    order, _ = desk
    win = _window(qtbot, order.app, bridge, tasks, ui_settings)
    browser = _browser(qtbot, win)
    bar: FilterBar = browser.filters
    qtbot.keyClicks(bar.user, "maria")
    qtbot.keyClick(bar.user, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: all(r.user == "maria" for r in _rows(browser)), timeout=10000)
    assert [r.type_name for r in _rows(browser)] == ["OrderPlaced"]
    assert browser.model.data(browser.model.index(0, USER)) == "maria"
    shown = _rows(browser)
    # A window that ends before it starts: a message, and nothing is asked or changed.
    first = order.app.events.read_stream(f"order-{order.order_id}")[0].recorded_at
    FilterBar.set_when(bar.since, first)
    FilterBar.set_when(bar.until, first.replace(year=first.year - 1))
    asked = browser._request
    bar.apply_button.click()
    assert bar.error.isVisible() and "after the 'From' time" in bar.error.text()
    assert browser._request == asked and _rows(browser) == shown
    # Fixed: the message goes, the window applies (the user and the two weeks of the order).
    bar.user.clear()
    FilterBar.set_when(bar.until, None)
    assert not bar.error.isVisible()
    bar.event_type.setCurrentIndex(bar.event_type.findData("OrderConfirmed"))
    bar.apply_button.click()
    qtbot.waitUntil(
        lambda: [r.type_name for r in _rows(browser)] == ["OrderConfirmed"], timeout=10000
    )
    bar.clear_button.click()
    qtbot.waitUntil(lambda: len(_rows(browser)) == PAGE_ROWS, timeout=10000)
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_older_and_newer_page_by_key(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, desk: Any
) -> None:
    order, _ = desk
    win = _window(qtbot, order.app, bridge, tasks, ui_settings)
    browser = _browser(qtbot, win)
    first = _rows(browser)
    browser.older_button.click()
    qtbot.waitUntil(lambda: browser.pages_back == 1 and _rows(browser) != first, timeout=10000)
    second = _rows(browser)
    assert second[0].key < first[-1].key  # joined: nothing skipped between the pages
    total = len(order.app.events.read_all(limit=10_000)) + 1  # one refused command
    assert len(first) + len(second) == total
    assert not browser.older_button.isEnabled() and browser.newer_button.isEnabled()
    # Another event arrives while the auditor looks at page two: Newer still joins exactly.
    order.app.commands.dispatch(c.AddOrderNote(order_id=order.order_id, text="Called the customer"))
    browser.newer_button.click()
    qtbot.waitUntil(lambda: browser.pages_back == 0 and _rows(browser) != second, timeout=10000)
    # The hundred rows just above page two: exactly page one; the new note lies above them.
    assert [r.key for r in _rows(browser)] == [r.key for r in first]
    assert browser.newer_button.isEnabled()
    browser.newer_button.click()
    qtbot.waitUntil(lambda: _rows(browser)[0].key > first[0].key, timeout=10000)
    assert "Called the customer" in _rows(browser)[0].summary
    assert [r.key for r in _rows(browser)][1:] == [r.key for r in first][:-1]
    assert not browser.newer_button.isEnabled()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_a_row_opens_its_order_in_the_audit_view_at_that_event(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, desk: Any
) -> None:
    order, _ = desk
    win = _window(qtbot, order.app, bridge, tasks, ui_settings)
    with qtbot.waitSignal(win.orders.model.loaded, timeout=10000):
        win.start()
    browser = _browser(qtbot, win)
    rows = _rows(browser)
    target = next(
        i
        for i, r in enumerate(rows)
        if r.type_name == "OrderLineQuantityChanged" and r.version and r.version < 100
    )
    version = rows[target].version
    browser.table.selectRow(target)
    qtbot.keyClick(browser.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.audit.active and win.audit.view is not None, timeout=10000)
    view = win.audit.view
    assert view is not None
    qtbot.waitUntil(
        lambda: (
            view.audit is not None
            and view.audit.order_id == order.order_id
            and view.canvas.current is not None
        ),
        timeout=10000,
    )
    row = view.canvas.rows[view.canvas.current or 0]
    card = view.canvas.cards[row.card]
    assert version is not None and card.first.version <= version <= card.last.version
    # A customer's row opens nothing and says why, in the browser.
    browser.filters.event_type.setCurrentIndex(
        browser.filters.event_type.findData("CustomerRegistered")
    )
    browser.filters.apply_button.click()
    qtbot.waitUntil(
        lambda: [r.type_name for r in _rows(browser)] == ["CustomerRegistered"], timeout=10000
    )
    browser.table.selectRow(0)
    browser.open_button.click()
    assert "only orders open" in browser.status.text()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_a_rows_context_menu_follows_its_command_and_user(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, desk: Any
) -> None:
    order, _ = desk
    win = _window(qtbot, order.app, bridge, tasks, ui_settings)
    browser = _browser(qtbot, win)
    rows = _rows(browser)
    target = next(i for i, r in enumerate(rows) if r.type_name == "OrderLineQuantityChanged")
    row = rows[target]
    menu = browser.row_menu(row)  # what a right-click on the row pops up
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == [
        "Open audit view",
        f"Only by {row.user}",
        f"Only on {row.host}",
        "This command's events",
        "Everything of this correlation",
    ]
    next(a for a in menu.actions() if a.text() == "This command's events").trigger()
    menu.close()
    qtbot.waitUntil(lambda: [r.key for r in _rows(browser)] == [row.key], timeout=10000)
    assert browser.filters.command.text() == row.command_id
    # Back to everything, then only maria's rows by the menu.
    browser.filters.clear()
    qtbot.waitUntil(lambda: len(_rows(browser)) == PAGE_ROWS, timeout=10000)
    maria = next(r for r in _rows(browser) if r.user == "maria")
    only = dict(browser.follow_actions(maria))["Only by maria"]
    browser.follow(only)
    qtbot.waitUntil(lambda: {r.user for r in _rows(browser)} == {"maria"}, timeout=10000)
    assert browser.filters.user.text() == "maria"
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
