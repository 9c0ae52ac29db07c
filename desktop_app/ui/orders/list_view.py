"""The order list: a filter bar (status, customer, search) over the paged orders table.

Over 500 lines on purpose: the filter bar, the table and their keyboard paths share one selection
state.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QColor, QFontMetrics, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import CustomerRow, ListCustomers
from desktop_app.ui import formatting as fmt
from desktop_app.ui.flow_layout import FlowLayout
from desktop_app.ui.orders import empty_state
from desktop_app.ui.orders.column_widths import fit_columns
from desktop_app.ui.orders.customer_filter import CustomerFilter
from desktop_app.ui.orders.date_filter import DateRange, DateRangeFilter
from desktop_app.ui.orders.table_model import (
    COLUMNS,
    ORDER_ID_ROLE,
    STATUS_COLOURS,
    STATUS_ROLE,
    OrderFilter,
    OrdersTableModel,
)
from desktop_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

STATUSES = ("pending", "confirmed", "shipped", "delivered", "cancelled")
SEARCH_DEBOUNCE_MS = 250
CUSTOMERS_RELOAD_MS = 2000


class StatusBadgeDelegate(QStyledItemDelegate):
    """Paints the status as a small coloured, rounded badge."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        status = index.data(STATUS_ROLE)
        if not status:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        colour = QColor(STATUS_COLOURS.get(str(status), "#555555"))
        metrics = QFontMetrics(opt.font)
        width = metrics.horizontalAdvance(text) + 16
        height = min(opt.rect.height() - 6, metrics.height() + 4)
        rect = QRect(opt.rect.left() + 6, opt.rect.center().y() - height // 2 + 1, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(rect), height / 2, height / 2)
        painter.setPen(QPen(QColor("white")))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 20, size.height())


class StatusFilterButton(QToolButton):
    """A drop-down of checkable statuses; none checked means "all"."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusFilter")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        # Room for the drop-down arrow, which would otherwise sit on the last letter.
        self.setStyleSheet("QToolButton#statusFilter { padding-right: 14px; }")
        self.setToolTip("Show only orders in these statuses")
        menu = QMenu(self)
        self.actions_by_status: dict[str, QAction] = {}
        for status in STATUSES:
            action = menu.addAction(fmt.status_label(status))
            action.setCheckable(True)
            action.setData(status)
            action.toggled.connect(self._toggled)
            self.actions_by_status[status] = action
        menu.addSeparator()
        self.clear_action = menu.addAction("All statuses")
        self.clear_action.triggered.connect(self.clear)
        self.setMenu(menu)
        self._update_text()

    def selected(self) -> frozenset[str] | None:
        chosen = frozenset(s for s, a in self.actions_by_status.items() if a.isChecked())
        return chosen or None

    def set_selected(self, statuses: frozenset[str] | None) -> None:
        for status, action in self.actions_by_status.items():
            action.blockSignals(True)
            action.setChecked(statuses is not None and status in statuses)
            action.blockSignals(False)
        self._update_text()
        self.changed.emit()

    @Slot()
    def clear(self) -> None:
        self.set_selected(None)

    @Slot(bool)
    def _toggled(self, _checked: bool) -> None:
        self._update_text()
        self.changed.emit()

    def _update_text(self) -> None:
        chosen = self.selected()
        if not chosen:
            self.setText("Status: all")
        else:
            names = [fmt.status_label(s) for s in STATUSES if s in chosen]
            self.setText("Status: " + ", ".join(names))


class OrdersListView(QWidget):
    """Filter bar + table. Emits ``current_order_changed(order_id or None)``."""

    current_order_changed = Signal(object)
    activated_order = Signal(str)
    start_requested = Signal(str)  # an empty-state link: empty_state.NEW_ORDER, …

    def __init__(
        self, queries: QuerySender, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ordersListView")
        self._queries = queries
        self._tasks = tasks
        self._current_order: str | None = None
        self._customers: list[CustomerRow] = []

        self.model = OrdersTableModel(queries, tasks, self)

        # --- filter bar
        self.status_filter = StatusFilterButton(self)
        self.date_filter = DateRangeFilter(self)
        self.customer_filter = CustomerFilter(tasks, self)
        self.customer_filter.set_queries(queries)
        self.search = QLineEdit(self)
        self.search.setObjectName("orderSearch")
        self.search.setPlaceholderText("Number, customer or SKU")
        # Never narrower than its hint (the clear button and frame need ~30 px more).
        self.search.setMinimumWidth(
            self.search.fontMetrics().horizontalAdvance(self.search.placeholderText()) + 34
        )
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(
            "Matches the order number, customer name or a product SKU (Ctrl+F to get here)"
        )
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("orderCount")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        search_label = QLabel("&Search:", self)
        search_label.setBuddy(self.search)
        customer_label = QLabel("C&ustomer:", self)
        customer_label.setBuddy(self.customer_filter)

        search_row = QHBoxLayout()
        search_row.setContentsMargins(0, 0, 0, 0)
        search_row.addWidget(search_label)
        search_row.addWidget(self.search, 1)
        # The filters wrap onto another line where even their own row does not fit (a
        # narrow list beside the History tab at 1024 px); the customer keeps its label.
        customer_group = QWidget(self)
        customer_group.setObjectName("customerFilterGroup")
        customer_row = QHBoxLayout(customer_group)
        customer_row.setContentsMargins(0, 0, 0, 0)
        customer_row.addWidget(customer_label)
        customer_row.addWidget(self.customer_filter, 1)
        bar = FlowLayout()
        bar.addWidget(self.status_filter)
        bar.addWidget(self.date_filter)
        bar.addWidget(customer_group)
        bar.addWidget(self.count_label)
        # One row where it fits, the filters under the search box where it does not (a
        # narrow list beside a wide History tab): never a clipped search box or filter.
        self.filter_bar = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.filter_bar.setContentsMargins(0, 0, 0, 0)
        self.filter_bar.addLayout(search_row, 3)
        self.filter_bar.addLayout(bar, 2)

        # --- table
        self.table = QTableView(self)
        self.table.setObjectName("ordersTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(
            QFontMetrics(self.table.font()).height() + 10
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(
            self.model.sort_column(),
            Qt.SortOrder.DescendingOrder
            if self.model.current_filter.descending
            else Qt.SortOrder.AscendingOrder,
        )
        fit_columns(self.table)
        self.table.setItemDelegateForColumn(
            [c.sort_key for c in COLUMNS].index("status"), StatusBadgeDelegate(self.table)
        )
        self.table.setAccessibleName("Orders")

        self.customer_note = QLabel("", self)
        self.customer_note.setObjectName("customerFilterNote")
        self.customer_note.setWordWrap(True)
        self.customer_note.setStyleSheet("QLabel { color: #b3261e; padding: 2px 6px; }")
        self.customer_note.setVisible(False)

        self.empty_label = QLabel("", self)
        self.empty_label.setObjectName("ordersMessage")
        self.empty_label.setWordWrap(True)
        self.empty_label.setVisible(False)
        self.empty_label.setStyleSheet("QLabel { color: palette(placeholder-text); padding: 6px; }")
        self.empty_label.linkActivated.connect(self._link)
        self.empty_desk_text = empty_state.empty_desk_text(sample_data=False, read_only=False)
        """What an empty desk says (the window sets it: can it load sample data, read-only?)."""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addLayout(self.filter_bar)
        layout.addWidget(self.customer_note)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)

        self.setTabOrder(self.search, self.status_filter)
        self.setTabOrder(self.status_filter, self.date_filter)
        self.setTabOrder(self.date_filter, self.customer_filter)
        self.setTabOrder(self.customer_filter, self.table)

        # --- wiring
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(self._search_timer.start)
        self.search.returnPressed.connect(self._apply_search_now)
        self.status_filter.changed.connect(self._apply_statuses)
        self.date_filter.changed.connect(self._apply_dates)
        self.customer_filter.customer_chosen.connect(self._apply_customer)
        self.customer_filter.problem_changed.connect(self._show_customer_problem)
        # The catalog changes (here, in a dialog, in another program): the drop-down follows
        # on live refreshes, at most once per CUSTOMERS_RELOAD_MS.
        self._customers_timer = QTimer(self)
        self._customers_timer.setSingleShot(True)
        self._customers_timer.setInterval(CUSTOMERS_RELOAD_MS)
        self._customers_timer.timeout.connect(self.reload_customers)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.activated.connect(self._activated)
        self.model.loaded.connect(self._after_load)
        self.model.refreshed.connect(self._after_refresh)
        self.model.page_loaded.connect(self._after_page)
        self.model.load_failed.connect(self._show_failure)
        self.model.total_changed.connect(self._show_count)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fit_filter_bar(event.size().width())
        super().resizeEvent(event)

    def _fit_filter_bar(self, width: int) -> None:
        search_row = self.filter_bar.itemAt(0)
        filters = self.filter_bar.itemAt(1)
        if search_row is None or filters is None:
            return
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else None
        room = width - (margins.left() + margins.right() if margins is not None else 0)
        one_row = search_row.minimumSize().width() + filters.sizeHint().width() + 6
        direction = (
            QBoxLayout.Direction.LeftToRight
            if room >= one_row
            else QBoxLayout.Direction.TopToBottom
        )
        if self.filter_bar.direction() != direction:
            self.filter_bar.setDirection(direction)

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        """First load of the orders and the customer list."""
        self.model.reload()
        self.reload_customers()

    def refresh(self) -> None:
        """Live refresh: re-query, keep selection and scroll position (and, a little later,
        the customers of the customer filter)."""
        self.model.refresh()
        if not self._customers_timer.isActive():
            self._customers_timer.start()

    def show_opening(self) -> None:
        """The state while the database is being opened (before :meth:`set_queries`)."""
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setText("Opening database…")
        self.empty_label.setVisible(True)
        self.count_label.setText("")

    def set_queries(self, queries: QuerySender) -> None:
        """Connect the query bus (the window was shown before the database was open)."""
        self._queries = queries
        self.model.set_queries(queries)
        self.customer_filter.set_queries(queries)
        self.empty_label.setVisible(False)

    def current_order_id(self) -> str | None:
        return self._current_order

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def select_order(self, order_id: str) -> bool:
        """Select ``order_id`` if its row is loaded; True when it was found."""
        row = self.model.find_row(order_id)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            self.table.selectionModel().SelectionFlag.ClearAndSelect
            | self.table.selectionModel().SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def set_empty_desk_text(self, text: str) -> None:
        """What an empty desk says (rich text with ``empty_state`` links)."""
        self.empty_desk_text = text
        if self.model.has_loaded and self.model.total == 0:
            self._show_empty_state()

    def filter_by_customer(self, customer_id: str | None, name: str = "") -> None:
        """Show only the orders of ``customer_id`` (None: all customers)."""
        self.customer_filter.choose(customer_id, name)

    def reveal(self, order_number: str) -> None:
        """Make sure the order ``order_number`` is listed: clear the filters that could hide
        it and search for its number (the clerk sees why the list changed)."""
        self.status_filter.clear()
        self.customer_filter.choose(None)
        self.search.setText(order_number)
        self._apply_search_now()

    def reload_customers(self) -> None:
        queries = self._queries

        def job() -> list[CustomerRow]:
            return list(queries.ask(ListCustomers(limit=5000)))

        self._tasks.submit(job, self._customers_loaded, self._customers_failed)

    # ------------------------------------------------------------------ slots

    @Slot()
    def _apply_search(self) -> None:
        text = self.search.text().strip()
        if (text or None) != self.model.current_filter.search:
            self.model.update_filter(search=text or None)

    @Slot()
    def _apply_search_now(self) -> None:
        self._search_timer.stop()
        self._apply_search()

    @Slot()
    def _apply_statuses(self) -> None:
        self.model.update_filter(statuses=self.status_filter.selected())

    @Slot(object)
    def _apply_dates(self, dates: DateRange) -> None:
        self.model.update_filter(date_column=dates.column, date_from=dates.start, date_to=dates.end)

    @Slot(object)
    def _apply_customer(self, customer_id: str | None) -> None:
        if customer_id != self.model.current_filter.customer_id:
            self.model.update_filter(customer_id=customer_id)

    @Slot(str)
    def _show_customer_problem(self, problem: str) -> None:
        self.customer_note.setText(problem)
        self.customer_note.setVisible(bool(problem))

    def _customers_loaded(self, customers: list[CustomerRow]) -> None:
        self._customers = customers
        self.customer_filter.set_customers(customers)

    def _customers_failed(self, exc: BaseException) -> None:
        log.warning("customer list failed: %r", exc)

    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_current()

    def _update_current(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        order_id = rows[0].data(ORDER_ID_ROLE) if rows else None
        if order_id is None and rows:
            return  # its page is still loading; decided when the page arrives
        if order_id != self._current_order:
            self._current_order = order_id
            self.current_order_changed.emit(order_id)

    @Slot(QModelIndex)
    def _activated(self, index: QModelIndex) -> None:
        order_id = index.data(ORDER_ID_ROLE)
        if order_id:
            self.activated_order.emit(order_id)

    @Slot()
    def _after_load(self) -> None:
        self._show_count(self.model.total)
        f = self.model.current_filter
        self.table.horizontalHeader().blockSignals(True)
        self.table.horizontalHeader().setSortIndicator(
            self.model.sort_column(),
            Qt.SortOrder.DescendingOrder if f.descending else Qt.SortOrder.AscendingOrder,
        )
        self.table.horizontalHeader().blockSignals(False)
        self._show_empty_state()
        if self._current_order is not None and not self.select_order(self._current_order):
            self._current_order = None
            self.current_order_changed.emit(None)

    def _show_empty_state(self) -> None:
        """How to start (empty desk) or how to see the orders again (filtered to none)."""
        if self.model.total != 0:
            self.empty_label.setVisible(False)
            return
        f = self.model.current_filter
        filtered = f != OrderFilter(sort=f.sort, descending=f.descending)
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.setText(empty_state.filtered_text() if filtered else self.empty_desk_text)
        self.empty_label.setVisible(True)

    @Slot(str)
    def _link(self, link: str) -> None:
        if link == empty_state.CLEAR_FILTERS:
            self.status_filter.clear()
            self.customer_filter.choose(None)
            self.search.clear()
            self._apply_search_now()
        else:
            self.start_requested.emit(link)

    @Slot()
    def _after_refresh(self) -> None:
        if self.model.total == 0 and bool(self.model.last_error):
            self.empty_label.setVisible(True)
        elif self.model.total == 0:
            self._show_empty_state()  # a live refresh keeps the way to start in view
        else:
            self.empty_label.setVisible(False)
        self._update_current()

    @Slot(int)
    def _after_page(self, _page: int) -> None:
        self._update_current()

    @Slot(str)
    def _show_failure(self, message: str) -> None:
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setText(f"The order list could not be loaded: {message}")
        self.empty_label.setVisible(True)

    @Slot(int)
    def _show_count(self, total: int) -> None:
        self.count_label.setText(f"{fmt.format_int(total)} order" + ("" if total == 1 else "s"))
