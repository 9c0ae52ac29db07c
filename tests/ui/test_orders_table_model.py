"""The paged orders model: qtmodeltester-clean, never loads everything, all queries off the GUI
thread, sort/filter through the query, live refresh keeps selection and scroll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt

from desktop_app.application.buses import QueryBus
from desktop_app.application.queries import ListOrders
from desktop_app.ui.orders.list_view import OrdersListView
from desktop_app.ui.orders.table_model import (
    COLUMNS,
    LOADED_ROLE,
    ORDER_ID_ROLE,
    OrderFilter,
    OrdersTableModel,
)

from .conftest import ListedOrders, make_row

Listed = Callable[[int], ListedOrders]


def _loaded_model(qtbot: Any, queries: ListedOrders, tasks: Any, **kw: Any) -> OrdersTableModel:
    model = OrdersTableModel(queries, tasks, **kw)
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.reload()
    return model


def _wait_all_pages(qtbot: Any, model: OrdersTableModel) -> None:
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=5000)


def test_model_passes_qtmodeltester(
    qtbot: Any, qtmodeltester: Any, tasks: Any, listed: Listed
) -> None:
    queries = listed(3000)
    model = _loaded_model(qtbot, queries, tasks, page_size=200, max_cached_pages=30)
    assert model.rowCount() == 3000
    assert model.columnCount() == len(COLUMNS)
    qtmodeltester.check(model)
    _wait_all_pages(qtbot, model)
    # Once pages have arrived, check again with real data in every cell.
    qtmodeltester.check(model)
    # Sort and filter changes (model resets) and a refresh with the tester attached.
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.sort(1, Qt.SortOrder.AscendingOrder)
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.update_filter(statuses=frozenset({"shipped"}))
    queries.rows[:0] = [make_row(10_000 + i) for i in range(5)]
    queries.write()
    with qtbot.waitSignal(model.refreshed, timeout=5000):
        model.refresh()
    _wait_all_pages(qtbot, model)


def test_total_from_query_and_pages_on_demand(qtbot: Any, tasks: Any, listed: Listed) -> None:
    queries = listed(10_000)
    model = _loaded_model(qtbot, queries, tasks, page_size=100, max_cached_pages=5)
    assert model.rowCount() == 10_000
    first = queries.list_calls()[0]
    assert first.with_total and first.offset == 0 and first.limit == 100
    # A row far down is not there yet; asking for it fetches just its page.
    index = model.index(7_654, 0)
    with qtbot.waitSignal(model.page_loaded, timeout=5000) as blocker:
        assert index.data(LOADED_ROLE) is False
        assert index.data() == "Loading…"
    assert blocker.args == [76]
    assert model.index(7_654, 0).data(ORDER_ID_ROLE) is not None
    # Never loads everything: the window of cached pages is bounded.
    for row in range(0, 10_000, 100):
        model.index(row, 0).data()
    _wait_all_pages(qtbot, model)
    assert len(model.cached_page_numbers()) <= 5
    page_calls = [c for c in queries.list_calls() if not c.with_total]
    assert all(c.limit == 100 for c in page_calls)
    assert max(c.limit for c in queries.list_calls()) == 100


def test_next_page_uses_the_keyset_cursor_of_the_cached_page(
    qtbot: Any, tasks: Any, listed: Listed
) -> None:
    queries = listed(1_000)
    model = _loaded_model(qtbot, queries, tasks, page_size=100, max_cached_pages=5)
    # The whole list in one query, for comparison (the model never asks for that).
    expected = queries.app.queries.ask(
        ListOrders(sort=model.current_filter.sort, limit=1_000, with_total=False)
    ).rows
    assert len(expected) == 1_000
    # Scrolling down page by page: each next page continues from the previous one's cursor.
    for number in (1, 2):
        with qtbot.waitSignal(model.page_loaded, timeout=5000):
            model.index(number * 100, 0).data()
        call = queries.list_calls()[-1]
        assert call.after is not None and call.offset == 0
    for row in (99, 100, 199, 200, 299):
        assert model.index(row, 0).data(ORDER_ID_ROLE) == expected[row].order_id
    # A jump (the page before is not cached) uses OFFSET.
    with qtbot.waitSignal(model.page_loaded, timeout=5000):
        model.index(750, 0).data()
    call = queries.list_calls()[-1]
    assert call.after is None and call.offset == 700
    assert model.index(750, 0).data(ORDER_ID_ROLE) == expected[750].order_id


def test_all_queries_run_off_the_gui_thread(qtbot: Any, tasks: Any, listed: Listed) -> None:
    queries = listed(1000)
    model = _loaded_model(qtbot, queries, tasks)
    for row in range(0, 1000, 50):
        model.index(row, 2).data()
    _wait_all_pages(qtbot, model)
    with qtbot.waitSignal(model.refreshed, timeout=5000):
        model.refresh()
    assert len(queries.calls) >= 3
    assert queries.gui_thread_calls == 0


def test_sort_and_filters_go_into_the_query(qtbot: Any, tasks: Any, listed: Listed) -> None:
    queries = listed(500)
    model = _loaded_model(qtbot, queries, tasks)
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.sort(4, Qt.SortOrder.AscendingOrder)  # Total
    last = queries.list_calls()[-1]
    assert (last.sort, last.descending) == ("total", False)
    totals = [model.row_at(r).total_minor for r in range(50)]  # type: ignore[union-attr]
    assert totals == sorted(totals)

    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.set_filter(
            OrderFilter(statuses=frozenset({"pending"}), customer_id="customer-004", sort="total")
        )
    last = queries.list_calls()[-1]
    assert last.statuses == frozenset({"pending"}) and last.customer_id == "customer-004"
    assert model.rowCount() == sum(
        1 for r in queries.rows if r.status == "pending" and r.customer_id == "customer-004"
    )
    with pytest.raises(ValueError):
        model.set_filter(OrderFilter(sort="1; DROP TABLE events"))


def test_failure_is_reported_not_raised(qtbot: Any, tasks: Any) -> None:
    # A real bus with no read-model handlers: ListOrders raises UnknownMessageError.
    model = OrdersTableModel(QueryBus({}), tasks)
    with qtbot.waitSignal(model.load_failed, timeout=5000) as blocker:
        model.reload()
    assert "unexpected" in blocker.args[0].lower()
    assert model.rowCount() == 0


def test_search_is_debounced(qtbot: Any, tasks: Any, list_queries: ListedOrders) -> None:
    view = OrdersListView(list_queries, tasks)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.start()
    before = len(list_queries.list_calls())
    with qtbot.waitSignal(view.model.loaded, timeout=30000):  # the debounce, then the query
        qtbot.keyClicks(view.search, "SO-00012")
        assert len(list_queries.list_calls()) == before  # nothing yet: typing is debounced
    searches = [c.search for c in list_queries.list_calls()[before:] if c.with_total]
    assert searches == ["SO-00012"]
    assert view.model.rowCount() == 10
    assert view.count_label.text() == "10 orders"


def test_status_and_customer_filters(qtbot: Any, tasks: Any, list_queries: ListedOrders) -> None:
    view = OrdersListView(list_queries, tasks)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.start()
    qtbot.waitUntil(lambda: view.customer_filter.count() > 1, timeout=5000)
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.status_filter.actions_by_status["delivered"].setChecked(True)
    assert view.status_filter.text() == "Status: Delivered"
    assert {view.model.row_at(r).status for r in range(20)} == {"delivered"}  # type: ignore[union-attr]
    index = view.customer_filter.findText("Customer 005 Ltd")
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.customer_filter.setCurrentIndex(index)
        view.customer_filter.activated.emit(index)
    last = list_queries.list_calls()[-1]
    assert last.customer_id == "customer-005" and last.statuses == frozenset({"delivered"})


def test_live_refresh_keeps_selection_and_scroll(
    qtbot: Any, tasks: Any, list_queries: ListedOrders
) -> None:
    view = OrdersListView(list_queries, tasks)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.start()
    table = view.table
    table.scrollTo(view.model.index(120, 0), table.ScrollHint.PositionAtTop)
    qtbot.waitUntil(lambda: not view.model.is_busy(), timeout=5000)
    with qtbot.waitSignal(view.current_order_changed, timeout=5000) as chosen:
        table.selectRow(125)
    selected_id = chosen.args[0]
    scroll = table.verticalScrollBar().value()
    assert scroll > 0

    # Three new orders arrive at the top (default sort: number, descending), one changes.
    list_queries.rows.extend(make_row(5000 + i) for i in range(3))
    list_queries.write()
    with qtbot.waitSignal(view.model.refreshed, timeout=5000):
        view.refresh()
    rows = table.selectionModel().selectedRows()
    assert [r.data(ORDER_ID_ROLE) for r in rows] == [selected_id]
    assert rows[0].row() == 128
    assert table.verticalScrollBar().value() == scroll
    assert view.current_order_id() == selected_id
    assert view.model.rowCount() == 2003

    # Orders disappear from the filter result: rows are removed at the end, selection follows.
    del list_queries.rows[:10]
    list_queries.write()
    with qtbot.waitSignal(view.model.refreshed, timeout=5000):
        view.refresh()
    assert view.model.rowCount() == 1993
    assert [r.data(ORDER_ID_ROLE) for r in table.selectionModel().selectedRows()] == [selected_id]


def test_refreshes_coalesce(qtbot: Any, tasks: Any, list_queries: ListedOrders) -> None:
    model = _loaded_model(qtbot, list_queries, tasks)
    before = len(list_queries.list_calls())
    for _ in range(10):
        model.refresh()
    _wait_all_pages(qtbot, model)
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=5000)
    # one refresh in flight plus one follow-up, not ten
    assert len(list_queries.list_calls()) - before <= 4


def test_header_and_roles(qtbot: Any, tasks: Any, list_queries: ListedOrders) -> None:
    model = _loaded_model(qtbot, list_queries, tasks)
    titles = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(len(COLUMNS))]
    assert titles == ["Number", "Customer", "Status", "Lines", "Total", "Last change", "Version"]
    row = model.row_at(0)
    assert row is not None
    assert model.index(0, 0).data() == row.order_number
    assert model.index(0, 2).data() == row.status.capitalize()
    assert "€" in model.index(0, 4).data()
    assert model.data(QModelIndex()) is None
    assert isinstance(list_queries.list_calls()[0], ListOrders)


def test_delegate_gets_every_role_of_a_cell_in_one_multidata_call(
    qtbot: Any, tasks: Any, listed: Listed
) -> None:
    """Qt's item delegates ask for all their roles through ``multiData`` (one Python call per
    painted cell, P5); what they get must match ``data`` role by role."""
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    queries = listed(1000)
    model = _loaded_model(qtbot, queries, tasks, page_size=100, max_cached_pages=5)
    delegate = QStyledItemDelegate()
    total = [c.sort_key for c in COLUMNS].index("total")
    for column in (0, total):
        index = model.index(5, column)
        option = QStyleOptionViewItem()
        delegate.initStyleOption(option, index)
        assert option.text == index.data() != ""
        assert option.displayAlignment == index.data(Qt.ItemDataRole.TextAlignmentRole)
    right = option.displayAlignment & Qt.AlignmentFlag.AlignHorizontal_Mask
    assert right == Qt.AlignmentFlag.AlignRight
    # A row whose page is not loaded yet: the placeholder text in grey.
    far = model.index(950, 0)
    option = QStyleOptionViewItem()
    delegate.initStyleOption(option, far)
    assert option.text == "Loading…"
    assert option.palette.text().color().name() == "#888888"
