"""A window that fits (issue 12): the list first at about 70/30, customer names readable at
1280 px, nothing clipped at 1024 px, a side panel that folds away; an empty desk that says how
to start; a customer filter that says when typed text matches no customer. Real widgets on a
real SQLite file behind the real buses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDialog,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from desktop_app.application.commands import RegisterCustomer
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.orders import empty_state
from desktop_app.ui.orders.detail import OrderDetailPanel
from desktop_app.ui.orders.forms import NewOrderDialog
from desktop_app.ui.orders.list_view import OrdersListView

from .conftest import ListedOrders, RealApp, make_row

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support")


def _window(
    qtbot: Any, app: Any, bridge: Any, tasks: Any, settings: QSettings, size: tuple[int, int]
) -> MainWindow:
    if app.projector is not None:
        app.projector.add_listener(bridge.publish_projector_status)
    win = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(win.orders.model.loaded, timeout=10000):
        win.start()
    # The default split is applied by a zero timer: one turn of the event loop.
    QApplication.processEvents()
    return win


@pytest.fixture
def window_at(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, real_app: RealApp
) -> Any:
    def make(width: int, height: int = 800) -> MainWindow:
        return _window(qtbot, real_app.app, bridge, tasks, ui_settings, (width, height))

    return make


def _clipped(widget: QWidget) -> str | None:
    """Why ``widget`` is not shown whole (None when it is): narrower than it needs, or cut by
    one of its parents."""
    if not widget.isVisible():
        return f"{widget.objectName() or type(widget).__name__} is not visible"
    need = widget.minimumSizeHint() if isinstance(widget, QComboBox) else widget.sizeHint()
    if isinstance(widget, QLineEdit):
        need = widget.minimumSize()
    if widget.width() < need.width():
        return f"{widget!r} is {widget.width()} px wide, needs {need.width()}"
    rect = QRect(widget.rect())
    child: QWidget = widget
    parent = widget.parentWidget()
    while parent is not None:
        rect.translate(child.pos())
        if not parent.rect().contains(rect):
            return f"{widget!r} is cut by {parent!r}"
        child, parent = parent, parent.parentWidget()
    return None


def _settle(qtbot: Any, win: MainWindow) -> None:
    QApplication.processEvents()
    qtbot.waitUntil(lambda: win.tasks.pending() == 0, timeout=10000)
    QApplication.processEvents()


def test_the_list_comes_first_and_customer_names_are_readable_at_1280(
    qtbot: Any, window_at: Any
) -> None:
    win = window_at(1280)
    _settle(qtbot, win)
    list_width, panel_width = win.splitter.sizes()
    assert 0.62 <= list_width / (list_width + panel_width) <= 0.75
    table = win.orders.table
    column = table.horizontalHeader().sectionSize(1)
    metrics = QFontMetrics(table.font())
    model = win.orders.model
    names = {model.row_at(r).customer_name for r in range(model.rowCount())}  # type: ignore[union-attr]
    widest = max(names, key=metrics.horizontalAdvance)
    # Every customer name of the demo data fits whole (cell padding included).
    assert metrics.horizontalAdvance(widest) + 12 <= column, (widest, column)


@pytest.mark.parametrize("tab", [0, 1, 2])
def test_nothing_is_clipped_at_1024(qtbot: Any, window_at: Any, tab: int) -> None:
    win = window_at(1024, 768)
    model = win.orders.model
    # An order with a few events, selected, shown on the tab.
    row = next(r for r in range(model.rowCount()) if model.row_at(r).status == "pending")  # type: ignore[union-attr]
    detail = win.detail
    assert isinstance(detail, OrderDetailPanel)
    with qtbot.waitSignal(detail.loaded, timeout=10000):
        win.orders.table.selectRow(row)
    win.tabs.setCurrentIndex(tab)
    _settle(qtbot, win)
    panel = win.tabs.currentWidget()
    if tab == 1:
        history = win.history
        qtbot.waitUntil(lambda: history.compare_button.isEnabled(), timeout=10000)
        _settle(qtbot, win)
    orders = win.orders
    must_fit: list[QWidget] = [
        orders.search,
        orders.status_filter,
        orders.customer_filter,
        orders.count_label,
    ]
    must_fit += [
        w
        for w in panel.findChildren(QWidget)
        if isinstance(w, (QAbstractButton, QSpinBox))
        and w.isVisible()
        and w.window() is win
        and not w.objectName().startswith("qt_")
        and w.parentWidget() is not None
        and not w.parentWidget().inherits("QAbstractScrollArea")
        and not w.parentWidget().objectName().startswith("qt_")
    ]
    if tab == 0:
        must_fit += list(detail.buttons.values())
    if tab == 1:
        history = win.history
        must_fit += [
            history.from_spin,
            history.to_spin,
            history.compare_button,
            history.previous_button,
        ]
    problems = [p for p in (_clipped(w) for w in must_fit) if p]
    assert problems == []
    # The search box shows its whole hint.
    search = orders.search
    hint = search.fontMetrics().horizontalAdvance(search.placeholderText())
    assert search.width() >= hint + 20


def test_side_panel_folds_away_and_comes_back(qtbot: Any, window_at: Any) -> None:
    win = window_at(1280)
    before = win.splitter.sizes()[1]
    win.orders.table.setFocus()
    qtbot.keyClick(win.orders.table, Qt.Key.Key_F9)
    assert win.splitter.sizes()[1] == 0
    assert not win.side_panel.action.isChecked()
    qtbot.keyClick(win.orders.table, Qt.Key.Key_F9)
    assert abs(win.splitter.sizes()[1] - before) <= 2
    # Folded, then a side tab asked for: the panel comes back showing it.
    win.side_panel.set_visible(False)
    qtbot.keyClick(win.orders.table, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert win.tabs.currentIndex() == 1
    assert win.splitter.sizes()[1] > 0 and win.side_panel.action.isChecked()


def test_history_gets_room_and_detail_gives_it_back(qtbot: Any, window_at: Any) -> None:
    win = window_at(1280)
    detail_width = win.splitter.sizes()[1]
    win.tabs.setCurrentIndex(1)
    total = sum(win.splitter.sizes())
    assert win.splitter.sizes()[1] >= 0.55 * total
    win.tabs.setCurrentIndex(0)
    assert abs(win.splitter.sizes()[1] - detail_width) <= 2


# --- empty desk ------------------------------------------------------------------------------


@pytest.fixture
def empty_app(tmp_path: Path) -> Any:
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    app = bootstrap(Settings.default(tmp_path / "empty.sqlite3"), source="test")
    yield app
    app.close()


def test_an_empty_desk_says_how_to_start_and_the_links_work(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, empty_app: Any
) -> None:
    from desktop_app.demo_data import load_demo

    win = _window(qtbot, empty_app, bridge, tasks, ui_settings, (1024, 768))
    label = win.orders.empty_label
    assert label.isVisible()
    text = label.text()
    assert "no orders yet" in text and "Ctrl+N" in text and "desktop-app-admin demo" in text
    assert f'href="{empty_state.NEW_ORDER}"' in text

    # A projector status (live refresh) keeps the way to start in view.
    empty_app.projector.run_once()
    bridge.publish_projector_status(empty_app.projector.status())
    _settle(qtbot, win)
    assert label.isVisible() and "no orders yet" in label.text()

    label.linkActivated.emit(empty_state.NEW_ORDER)
    qtbot.waitUntil(
        lambda: any(
            isinstance(w, NewOrderDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
        ),
        timeout=5000,
    )
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QDialog) and w.isVisible():
            w.reject()
    _settle(qtbot, win)

    def loader(progress: Any) -> Any:
        summary = load_demo(
            empty_app.commands, orders=4, seed=5, progress=progress, queries=empty_app.queries
        )
        empty_app.projector.run_once()
        return summary

    win.offer_sample_data(loader)
    for w in QApplication.topLevelWidgets():
        if w.objectName() == "sampleDataQuestion" and w.isVisible():
            w.reject()  # "No" for now …
    _settle(qtbot, win)
    assert f'href="{empty_state.SAMPLE_DATA}"' in label.text()
    label.linkActivated.emit(empty_state.SAMPLE_DATA)  # … then from the empty desk's link
    qtbot.waitUntil(lambda: win.orders.model.rowCount() == 4, timeout=20000)
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=5000)
    _settle(qtbot, win)


def test_a_filter_that_hides_every_order_offers_to_clear_it(qtbot: Any, window_at: Any) -> None:
    win = window_at(1280)
    orders = win.orders
    with qtbot.waitSignal(orders.model.loaded, timeout=5000):
        orders.search.setText("no such order anywhere")
        orders.search.returnPressed.emit()
    assert orders.empty_label.isVisible()
    assert "No orders match the filter" in orders.empty_label.text()
    with qtbot.waitSignal(orders.model.loaded, timeout=5000):
        orders.empty_label.linkActivated.emit(empty_state.CLEAR_FILTERS)
    assert orders.search.text() == "" and orders.model.rowCount() == 60


# --- the customer filter -------------------------------------------------------------------------


def _type_customer(qtbot: Any, view: OrdersListView, text: str) -> None:
    combo = view.customer_filter
    combo.setFocus()
    combo.lineEdit().selectAll()
    if text.isascii():
        qtbot.keyClicks(combo.lineEdit(), text)
    else:
        combo.lineEdit().insert(text)
    combo.lineEdit().editingFinished.emit()
    qtbot.waitUntil(lambda: not combo.is_busy(), timeout=5000)


def test_customer_text_that_matches_nobody_is_shown_as_such(qtbot: Any, window_at: Any) -> None:
    win = window_at(1280)
    view = win.orders
    _type_customer(qtbot, view, "Nobody Such Ltd")
    assert "No customer matches “Nobody Such Ltd”" in view.customer_filter.problem()
    qtbot.waitUntil(view.customer_note.isVisible, timeout=2000)
    assert "No customer matches" in view.customer_note.text()
    assert view.model.current_filter.customer_id is None  # and the list says it is unfiltered
    # Fixing the text makes the note go and the filter apply.
    model = view.model
    name = model.row_at(0).customer_name  # type: ignore[union-attr]
    with qtbot.waitSignal(model.loaded, timeout=5000):
        _type_customer(qtbot, view, name)
    assert not view.customer_note.isVisible() and view.customer_filter.problem() == ""
    assert {model.row_at(r).customer_name for r in range(model.rowCount())} == {name}  # type: ignore[union-attr]


def test_customer_text_that_matches_several_says_so(
    qtbot: Any, window_at: Any, real_app: RealApp
) -> None:
    app = real_app.app
    app.commands.dispatch(RegisterCustomer(name="Zyx Twin One"))
    app.commands.dispatch(RegisterCustomer(name="Zyx Twin Two"))
    real_app.catch_up()
    win = window_at(1280)
    _type_customer(qtbot, win.orders, "zyx twin")
    assert win.orders.customer_filter.problem().startswith("2 customers match")


def test_customer_filter_follows_catalog_changes(
    qtbot: Any, window_at: Any, real_app: RealApp
) -> None:
    win = window_at(1280)
    combo = win.orders.customer_filter
    _settle(qtbot, win)
    assert combo.findText("Brand New Customer AG") < 0
    real_app.app.commands.dispatch(RegisterCustomer(name="Brand New Customer AG"))
    real_app.catch_up()  # the projector publishes its progress through the bridge
    qtbot.waitUntil(lambda: combo.findText("Brand New Customer AG") > 0, timeout=15000)


def test_customer_type_ahead_and_filter_cover_every_customer(
    qtbot: Any, tasks: Any, tmp_path: Path
) -> None:
    # More customers than the drop-down holds: the bus answers for all of them.
    many = ListedOrders(
        tmp_path / "many.sqlite3", [make_row(i, customers=5300) for i in range(5300)]
    )
    try:
        view = OrdersListView(many, tasks)
        qtbot.addWidget(view)
        view.resize(900, 500)
        view.show()
        qtbot.waitExposed(view)
        with qtbot.waitSignal(view.model.loaded, timeout=10000):
            view.start()
        qtbot.waitUntil(lambda: view.customer_filter.count() > 1, timeout=10000)
        assert view.customer_filter.findText("Customer 950 Ltd") < 0  # not in the drop-down
        combo = view.customer_filter
        combo.setFocus()
        qtbot.keyClicks(combo.lineEdit(), "customer 950")
        popup = combo.completer().popup()
        qtbot.waitUntil(popup.isVisible, timeout=5000)
        offered = [
            combo.completer().model().index(r, 0).data()
            for r in range(combo.completer().model().rowCount())
        ]
        assert "Customer 950 Ltd" in offered
        popup.hide()
        with qtbot.waitSignal(view.model.loaded, timeout=5000):
            combo.lineEdit().setText("Customer 950 Ltd")
            combo.lineEdit().editingFinished.emit()
        assert view.model.current_filter.customer_id == "customer-950"
        assert combo.problem() == ""
    finally:
        tasks.wait_idle(10000)
        many.close()


def test_a_dragged_width_and_a_folded_panel_are_kept(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, real_app: RealApp
) -> None:
    from PySide6.QtCore import QPoint

    win = _window(qtbot, real_app.app, bridge, tasks, ui_settings, (1280, 800))
    handle = win.splitter.handle(1)
    start = handle.rect().center()
    before = win.splitter.sizes()[1]
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(handle, start - QPoint(120, 0))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=start - QPoint(120, 0))
    dragged = win.splitter.sizes()[1]
    assert dragged > before + 60  # the clerk gave Detail more room
    win.tabs.setCurrentIndex(1)
    assert win.splitter.sizes()[1] != dragged  # History has its own width …
    win.tabs.setCurrentIndex(0)
    assert abs(win.splitter.sizes()[1] - dragged) <= 2  # … and Detail keeps the dragged one
    win.close()

    again = _window(qtbot, real_app.app, bridge, tasks, ui_settings, (1280, 800))
    QApplication.processEvents()
    assert abs(again.splitter.sizes()[1] - dragged) <= 4
    again.side_panel.set_visible(False)
    again.close()

    folded = _window(qtbot, real_app.app, bridge, tasks, ui_settings, (1280, 800))
    QApplication.processEvents()
    assert folded.splitter.sizes()[1] == 0 and not folded.side_panel.action.isChecked()


@pytest.mark.parametrize("width", [1024, 1280])
def test_a_narrow_list_scrolls_sideways_rather_than_cut_customer_names(
    qtbot: Any, window_at: Any, width: int
) -> None:
    from desktop_app.ui.orders.column_widths import CUSTOMER_MINIMUM

    win = window_at(width)
    header = win.orders.table.horizontalHeader()
    win.tabs.setCurrentIndex(1)  # History takes most of the width
    _settle(qtbot, win)
    assert header.sectionSize(1) >= CUSTOMER_MINIMUM
    win.tabs.setCurrentIndex(0)
    _settle(qtbot, win)
    table = win.orders.table
    others = sum(header.sectionSize(i) for i in range(header.count()) if i != 1)
    # Back beside Detail: the customer column stretches over the room again.
    assert abs(header.sectionSize(1) - (table.viewport().width() - others)) <= 2
