"""The order list as a Qt table model that pages through the read model.

It never loads everything: the total comes from ``ListOrders(with_total=True)`` and rows are
fetched a page at a time, on demand, when the view asks for a row whose page is not cached
(a small LRU window of pages). Every query runs on the TaskRunner's pool; the GUI thread only
swaps in the frozen rows that come back.

Live refresh re-fetches the cached pages and keeps the view steady: rows are inserted/removed at
the end to match the new total, and persistent indexes (the selection, the current row) follow
their order to its new row, so the clerk's selection survives new orders arriving at the top.

Over 500 lines on purpose: paging, live refresh and persistent indexes touch the same page cache.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import ORDER_SORT_COLUMNS, ListOrders, OrderRow, Page
from desktop_app.ui import formatting as fmt
from desktop_app.ui.errors import explain
from desktop_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_CACHED_PAGES = 12

ORDER_ID_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3
LOADED_ROLE = Qt.ItemDataRole.UserRole + 4


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    sort_key: str
    numeric: bool = False
    tooltip: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("Number", "order_number", tooltip="The order number"),
    Column("Customer", "customer_name"),
    Column("Status", "status"),
    Column("Lines", "line_count", numeric=True, tooltip="Number of order lines"),
    Column("Total", "total", numeric=True, tooltip="Order total"),
    Column("Last change", "updated_at", tooltip="When the order last changed (local time)"),
    Column("Version", "version", numeric=True, tooltip="Number of recorded events"),
)
assert all(c.sort_key in ORDER_SORT_COLUMNS for c in COLUMNS)

STATUS_COLOURS: dict[str, str] = {
    "pending": "#b26a00",
    "confirmed": "#1565c0",
    "shipped": "#6a1b9a",
    "delivered": "#2e7d32",
    "cancelled": "#757575",
}

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_LOADING_COLOUR = QColor("#888888")

# Plain ints: ``data``/``multiData`` run for every painted cell, and comparing with an enum
# member (an attribute lookup through the enum class) costs more than the comparison itself.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_ORDER_ID = int(ORDER_ID_ROLE)
_ROW = int(ROW_ROLE)
_STATUS = int(STATUS_ROLE)
_LOADED = int(LOADED_ROLE)
_ALIGNMENTS = tuple(_RIGHT if c.numeric else _LEFT for c in COLUMNS)
_KEYS = tuple(c.sort_key for c in COLUMNS)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What the filter bar asks for (frozen; crosses to worker threads inside queries)."""

    statuses: frozenset[str] | None = None
    customer_id: str | None = None
    search: str | None = None
    sort: str = "order_number"
    descending: bool = True
    date_column: str = "placed_at"
    date_from: datetime | None = None
    date_to: datetime | None = None


class OrdersTableModel(QAbstractTableModel):
    """Windowed, asynchronous model over ``ListOrders``."""

    loaded = Signal()  # a filter/sort result replaced the rows (the model was reset)
    refreshed = Signal()  # a live refresh was applied (rows kept their identity)
    page_loaded = Signal(int)  # page index
    load_failed = Signal(str)  # a clerk-readable message
    total_changed = Signal(int)

    def __init__(
        self,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        max_cached_pages: int = MAX_CACHED_PAGES,
    ) -> None:
        super().__init__(parent)
        self._queries = queries
        self._tasks = tasks
        self._page_size = page_size
        self._max_pages = max(2, max_cached_pages)
        self._filter = OrderFilter()
        self._total = 0
        self._pages: OrderedDict[int, tuple[OrderRow, ...]] = OrderedDict()
        # Keyset cursor (``Page.next_after``) of each cached page: the page after a cached one
        # is fetched with ``ListOrders.after`` instead of a deep OFFSET (scrolling down).
        self._cursors: dict[int, str | None] = {}
        self._requested: set[int] = set()
        self._generation = 0
        self._reload_in_flight = False
        self._refresh_in_flight = False
        self._refresh_again = False
        self._has_loaded = False
        self._started = False
        self.last_error: str | None = None

    # ------------------------------------------------------------------ public API

    @property
    def current_filter(self) -> OrderFilter:
        return self._filter

    @property
    def total(self) -> int:
        return self._total

    @property
    def has_loaded(self) -> bool:
        return self._has_loaded

    def is_busy(self) -> bool:
        return self._reload_in_flight or self._refresh_in_flight or bool(self._requested)

    def set_filter(self, new_filter: OrderFilter) -> None:
        """Apply a filter/sort; the rows are replaced when the first page arrives.

        Before the first ``reload()`` this only records the filter (no query runs while the
        window is being built)."""
        if new_filter.sort not in ORDER_SORT_COLUMNS:
            raise ValueError(f"cannot sort by {new_filter.sort!r}")
        self._filter = new_filter
        if self._started:
            self.reload()

    def set_queries(self, queries: QuerySender) -> None:
        """Connect the query bus (before the first ``reload()``)."""
        self._queries = queries

    def update_filter(self, **changes: Any) -> None:
        self.set_filter(replace(self._filter, **changes))

    def reload(self) -> None:
        """Fetch the first page and the total under the current filter, then reset the rows."""
        self._started = True
        self._generation += 1
        generation = self._generation
        self._requested.clear()
        self._refresh_again = False
        self._reload_in_flight = True
        query = self._query(0, with_total=True)
        queries = self._queries

        def job() -> Page[OrderRow]:
            return queries.ask(query)

        self._tasks.submit(
            job,
            lambda page: self._on_reloaded(generation, page),
            lambda exc: self._on_failed(generation, exc, kind="reload"),
        )

    def refresh(self) -> None:
        """Re-query what is cached (live refresh); keeps selection and scroll position."""
        if not self._has_loaded:
            if not self._reload_in_flight:
                self.reload()
            return
        if self._reload_in_flight or self._refresh_in_flight:
            self._refresh_again = True
            return
        self._refresh_in_flight = True
        generation = self._generation
        pages = sorted(self._pages) or [0]
        if 0 not in pages:
            pages.insert(0, 0)
        queries_list = [self._query(p, with_total=(p == pages[0])) for p in pages]
        queries = self._queries

        def job() -> list[Page[OrderRow]]:
            return [queries.ask(q) for q in queries_list]

        self._tasks.submit(
            job,
            lambda result: self._on_refreshed(generation, pages, result),
            lambda exc: self._on_failed(generation, exc, kind="refresh"),
        )

    def row_at(self, row: int) -> OrderRow | None:
        """The cached row (None while its page is loading)."""
        if row < 0 or row >= self._total:
            return None
        page = self._pages.get(row // self._page_size)
        if page is None:
            return None
        offset = row % self._page_size
        return page[offset] if offset < len(page) else None

    def find_row(self, order_id: str) -> int | None:
        """The row of ``order_id`` if its page is cached."""
        for number, page in self._pages.items():
            for i, item in enumerate(page):
                if item.order_id == order_id:
                    return number * self._page_size + i
        return None

    def cached_page_numbers(self) -> list[int]:
        return list(self._pages)

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return (column.tooltip or column.title) + " — click to sort"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _FLAGS

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if row >= self._total or col >= len(COLUMNS):
            return None
        return self._value(self._touch(row), col, int(role))

    # PySide6's stubs declare the span as ``QModelRoleDataSpan | QModelRoleData`` and the span
    # as not iterable; Qt passes a span, and PySide6 iterates it (its __iter__ is generated).
    def multiData(  # type: ignore[override]
        self, index: QModelIndex | QPersistentModelIndex, roleDataSpan: QModelRoleDataSpan
    ) -> None:
        """Every role Qt asks for at once: its item delegates ask for seven roles per painted
        cell through ``multiData``, and Qt's default implementation makes one ``data`` call
        (one Python call from C++) per role. One call per cell makes a repaint of the table
        several times cheaper, which is what the GUI thread does after every live refresh
        while the projector catches up (P5: no GUI-thread stall > 50 ms)."""
        item: OrderRow | None = None
        row, col = (index.row(), index.column()) if index.isValid() else (-1, -1)
        valid = 0 <= row < self._total and 0 <= col < len(COLUMNS)
        if valid:
            item = self._touch(row)
        for role_data in roleDataSpan:  # type: ignore[attr-defined]  # (see above)
            value = self._value(item, col, role_data.role()) if valid else None
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

    def _value(self, item: OrderRow | None, col: int, role: int) -> Any:
        """The value of ``role`` for column ``col`` of ``item`` (None: a row still loading)."""
        if item is None:
            if role == _DISPLAY:
                return "Loading…" if col == 0 else None
            if role == _LOADED:
                return False
            if role == _FOREGROUND:
                return _LOADING_COLOUR
            return None
        if role == _DISPLAY:
            return self._display(item, _KEYS[col])
        if role == _ALIGNMENT:
            return _ALIGNMENTS[col]
        if role == _TOOLTIP:
            key = _KEYS[col]
            if key == "updated_at":
                return fmt.format_datetime(item.updated_at, seconds=True)
            if key == "customer_name":
                return item.customer_name
            return None
        if role == _ORDER_ID:
            return item.order_id
        if role == _ROW:
            return item
        if role == _STATUS:
            return item.status
        if role == _LOADED:
            return True
        if role == _ACCESSIBLE:
            return self._display(item, _KEYS[col])
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        key = COLUMNS[column].sort_key
        descending = order == Qt.SortOrder.DescendingOrder
        if key == self._filter.sort and descending == self._filter.descending:
            return
        self.set_filter(replace(self._filter, sort=key, descending=descending))

    def sort_column(self) -> int:
        for i, column in enumerate(COLUMNS):
            if column.sort_key == self._filter.sort:
                return i
        return -1

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _display(item: OrderRow, key: str) -> str:
        if key == "order_number":
            return item.order_number
        if key == "customer_name":
            return item.customer_name
        if key == "status":
            return fmt.status_label(item.status)
        if key == "line_count":
            return fmt.format_int(item.line_count)
        if key == "total":
            return fmt.format_minor(item.total_minor, item.currency)
        if key == "updated_at":
            return fmt.format_datetime(item.updated_at)
        if key == "version":
            return fmt.format_int(item.version)
        return ""

    def current_query(self) -> ListOrders:
        """The list as shown (filter, search and sort), from its first row (exports)."""
        return self._query(0, with_total=True)

    def _query(self, page: int, *, with_total: bool, after: str | None = None) -> ListOrders:
        f = self._filter
        return ListOrders(
            statuses=f.statuses,
            customer_id=f.customer_id,
            search=f.search or None,
            sort=f.sort,
            descending=f.descending,
            offset=0 if after is not None else page * self._page_size,
            after=after,
            limit=self._page_size,
            with_total=with_total,
            date_column=f.date_column,
            date_from=f.date_from,
            date_to=f.date_to,
        )

    def _cursor_before(self, number: int) -> str | None:
        """The keyset cursor that continues right after page ``number - 1`` if that page is
        cached (so the rows line up with the offsets shown), else None (use OFFSET)."""
        if number <= 0 or (number - 1) not in self._pages:
            return None
        return self._cursors.get(number - 1)

    def _touch(self, row: int) -> OrderRow | None:
        number = row // self._page_size
        page = self._pages.get(number)
        if page is None:
            self._request_page(number)
            return None
        self._pages.move_to_end(number)
        offset = row % self._page_size
        return page[offset] if offset < len(page) else None

    def _request_page(self, number: int) -> None:
        if number in self._requested or self._reload_in_flight:
            return
        self._requested.add(number)
        generation = self._generation
        query = self._query(number, with_total=False, after=self._cursor_before(number))
        queries = self._queries

        def job() -> Page[OrderRow]:
            return queries.ask(query)

        self._tasks.submit(
            job,
            lambda page: self._on_page(generation, number, page),
            lambda exc: self._on_failed(generation, exc, kind="page", page=number),
        )

    def _store_page(
        self, number: int, rows: tuple[OrderRow, ...], cursor: str | None = None
    ) -> None:
        self._pages[number] = rows
        self._cursors[number] = cursor
        self._pages.move_to_end(number)
        while len(self._pages) > self._max_pages:
            evicted, _rows = self._pages.popitem(last=False)
            self._cursors.pop(evicted, None)

    def _on_page(self, generation: int, number: int, page: Page[OrderRow]) -> None:
        self._requested.discard(number)
        if generation != self._generation:
            return
        self._store_page(number, tuple(page.rows), page.next_after)
        first = number * self._page_size
        last = min(self._total, first + self._page_size) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        self.page_loaded.emit(number)

    def _on_reloaded(self, generation: int, page: Page[OrderRow]) -> None:
        if generation != self._generation:
            return
        self._reload_in_flight = False
        self.last_error = None
        total = page.total if page.total is not None else len(page.rows)
        self.beginResetModel()
        self._pages.clear()
        self._cursors.clear()
        self._requested.clear()
        self._total = total
        self._store_page(0, tuple(page.rows), page.next_after)
        self._has_loaded = True
        self.endResetModel()
        self.total_changed.emit(total)
        self.loaded.emit()
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()

    def _on_refreshed(
        self, generation: int, numbers: list[int], pages: list[Page[OrderRow]]
    ) -> None:
        self._refresh_in_flight = False
        if generation != self._generation:
            return
        self.last_error = None
        new_total = pages[0].total if pages[0].total is not None else self._total
        old_total = self._total
        if new_total > old_total:
            self.beginInsertRows(QModelIndex(), old_total, new_total - 1)
            self._total = new_total
            self.endInsertRows()

        # Persistent indexes (selection, current index) follow their order to its new row.
        self.layoutAboutToBeChanged.emit()
        old_ids: dict[int, str] = {}
        for persistent in self.persistentIndexList():
            item = self.row_at(persistent.row())
            if item is not None:
                old_ids[persistent.row()] = item.order_id
        self._pages.clear()
        self._cursors.clear()
        self._requested.clear()
        for number, page in zip(numbers, pages, strict=True):
            self._store_page(number, tuple(page.rows), page.next_after)
        new_rows: dict[str, int] = {}
        for number, page in zip(numbers, pages, strict=True):
            for i, item in enumerate(page.rows):
                new_rows[item.order_id] = number * self._page_size + i
        from_list = []
        to_list = []
        for persistent in self.persistentIndexList():
            order_id = old_ids.get(persistent.row())
            if order_id is None:
                continue
            target = new_rows.get(order_id)
            if target is None or target == persistent.row():
                continue
            from_list.append(QModelIndex(persistent))
            to_list.append(self.index(target, persistent.column()))
        if from_list:
            self.changePersistentIndexList(from_list, to_list)
        self.layoutChanged.emit()

        if new_total < old_total:
            self.beginRemoveRows(QModelIndex(), new_total, old_total - 1)
            self._total = new_total
            self.endRemoveRows()
        if self._total:
            self.dataChanged.emit(self.index(0, 0), self.index(self._total - 1, len(COLUMNS) - 1))
        if new_total != old_total:
            self.total_changed.emit(new_total)
        self.refreshed.emit()
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()

    def _on_failed(
        self, generation: int, exc: BaseException, *, kind: str, page: int | None = None
    ) -> None:
        if kind == "page" and page is not None:
            self._requested.discard(page)
        elif kind == "refresh":
            self._refresh_in_flight = False
        elif kind == "reload" and generation == self._generation:
            self._reload_in_flight = False
        if generation != self._generation:
            return
        log.warning("order list query failed: %r", exc)
        _title, message = explain(exc)
        self.last_error = message
        self.load_failed.emit(message)
