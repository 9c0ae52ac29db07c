"""The widgets of the desk as of a past moment (issue 11): the dialog that picks a local date
and time, the read-only list of one ``GetDeskAsOf`` answer under its "As of … — read-only"
banner. ``as_of_mode`` puts them in the window (imported when first used: off the start-up
path).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QDateTime,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTime,
    Signal,
    Slot,
)
from PySide6.QtGui import QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.as_of import DeskAsOf
from desktop_app.application.queries import OrderRow
from desktop_app.ui import formatting as fmt
from desktop_app.ui.orders.column_widths import fit_columns
from desktop_app.ui.orders.list_view import StatusBadgeDelegate
from desktop_app.ui.orders.table_model import COLUMNS, ORDER_ID_ROLE, STATUS_ROLE, OrdersTableModel

BANNER_STYLE = (
    "QFrame#asOfBanner { background: #e3ecfa; border-bottom: 2px solid #3d6fb6; }"
    " QLabel#asOfTitle { color: #17315c; font-weight: bold; }"
    " QLabel#asOfDetails { color: #17315c; }"
)

_SORT_KEYS: dict[str, Callable[[OrderRow], Any]] = {
    "order_number": operator.attrgetter("order_number"),
    "customer_name": lambda row: row.customer_name.casefold(),
    "status": operator.attrgetter("status"),
    "line_count": operator.attrgetter("line_count"),
    "total": operator.attrgetter("total_minor"),
    "updated_at": operator.attrgetter("updated_utc"),
    "version": operator.attrgetter("version"),
}


def local_now() -> datetime:
    """Now, in the local time zone (aware)."""
    return datetime.now().astimezone()


def wall_clock(moment: datetime) -> QDateTime:
    """The wall-clock reading of ``moment`` (its own zone) as a QDateTime for the editor."""
    return QDateTime(
        QDate(moment.year, moment.month, moment.day),
        QTime(moment.hour, moment.minute, moment.second),
    )


class AsOfDialog(QDialog):
    """Pick a past moment in local time (shown with the machine's zone)."""

    def __init__(self, initial: datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("asOfDialog")
        self.setWindowTitle("Desk as of…")
        now = local_now()
        start = initial or (now - timedelta(days=1)).replace(second=0, microsecond=0)
        self.edit = QDateTimeEdit(self)
        self.edit.setObjectName("asOfMoment")
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("d MMM yyyy HH:mm")
        self.edit.setMaximumDateTime(wall_clock(now))
        self.edit.setDateTime(wall_clock(start.astimezone()))
        zone = now.tzname() or now.strftime("UTC%z")
        note = QLabel(
            f"Local time ({zone}). The list shows every order as it was then: status, lines, "
            "totals and customer names. Nothing can be changed in that view.",
            self,
        )
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Show the desk &as of", self.edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("&Show")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)
        self.edit.setFocus()

    def moment(self) -> datetime:
        """The picked local wall-clock time, as an aware datetime in the local zone."""
        naive = self.edit.dateTime().toPython()
        assert isinstance(naive, datetime)
        return naive.astimezone()  # a naive datetime is taken as local time


class AsOfTableModel(QAbstractTableModel):
    """The rows of one as-of answer, all in memory, sorted here (read-only)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[OrderRow] = []
        self._folded: list[str] = []
        self._shown: list[OrderRow] = []
        self._needle = ""
        self._sort = ("order_number", True)

    def set_rows(self, rows: tuple[OrderRow, ...]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self._folded = [f"{r.order_number}\n{r.customer_name}".casefold() for r in self.rows]
        self._apply()
        self.endResetModel()

    def set_search(self, text: str) -> None:
        """Keep the rows whose number or customer contains ``text`` (case-insensitive)."""
        self.beginResetModel()
        self._needle = text.strip().casefold()
        self._apply()
        self.endResetModel()

    def _apply(self) -> None:
        needle = self._needle
        if needle:
            # Folded once per answer, not per keystroke (a desk has 100k rows).
            shown = [r for r, text in zip(self.rows, self._folded, strict=True) if needle in text]
        else:
            shown = list(self.rows)
        key, descending = self._sort
        shown.sort(key=_SORT_KEYS[key], reverse=descending)
        self._shown = shown

    def row_at(self, row: int) -> OrderRow | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def shown_rows(self) -> list[OrderRow]:
        """The rows as shown: filtered and sorted (a copy)."""
        return list(self._shown)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section].tooltip:
                return COLUMNS[section].tooltip
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        item = self.row_at(index.row()) if index.isValid() else None
        if item is None or not 0 <= index.column() < len(COLUMNS):
            return None
        column = COLUMNS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return OrdersTableModel._display(item, column.sort_key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            )
            return horizontal | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.ToolTipRole and column.sort_key == "updated_at":
            return fmt.format_datetime(item.updated_at, seconds=True)
        if role == ORDER_ID_ROLE:
            return item.order_id
        if role == STATUS_ROLE:
            return item.status
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        self.layoutAboutToBeChanged.emit()
        self._sort = (COLUMNS[column].sort_key, order == Qt.SortOrder.DescendingOrder)
        self._apply()
        self.layoutChanged.emit()


class AsOfView(QWidget):
    """The banner and the read-only list of one as-of answer."""

    back_requested = Signal()
    change_requested = Signal()
    export_requested = Signal()
    order_opened = Signal(str, int)
    """(order id, its version then): a row was activated (Enter or a double click)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("asOfView")
        self.answer: DeskAsOf | None = None
        self.banner = QWidget(self)
        self.banner.setObjectName("asOfBanner")
        self.banner.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.banner.setStyleSheet(BANNER_STYLE.replace("QFrame#", "QWidget#"))
        self.title = QLabel(self.banner)
        self.title.setObjectName("asOfTitle")
        self.details = QLabel(self.banner)
        self.details.setObjectName("asOfDetails")
        self.details.setWordWrap(True)
        self.change_button = QPushButton("&Other date…", self.banner)
        self.change_button.clicked.connect(self.change_requested)
        self.export_button = QPushButton("&Export CSV…", self.banner)
        self.export_button.setToolTip(
            "Write the rows shown (filter and sort applied) to a CSV file"
        )
        self.export_button.clicked.connect(self.export_requested)
        self.back_button = QPushButton("&Back to live (Esc)", self.banner)
        self.back_button.setObjectName("asOfBack")
        self.back_button.clicked.connect(self.back_requested)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.title)
        texts.addWidget(self.details)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(10, 6, 10, 6)
        row.addLayout(texts, 1)
        row.addWidget(self.export_button)
        row.addWidget(self.change_button)
        row.addWidget(self.back_button)

        self.search = QLineEdit(self)
        self.search.setObjectName("asOfSearch")
        self.search.setPlaceholderText("Filter by order number or customer")
        self.search.setClearButtonEnabled(True)
        self.model = AsOfTableModel(self)
        self.search.textChanged.connect(self.model.set_search)
        self.table = QTableView(self)
        self.table.setObjectName("asOfTable")
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(
            QFontMetrics(self.table.font()).height() + 10
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        fit_columns(self.table)
        self.table.setItemDelegateForColumn(
            [c.sort_key for c in COLUMNS].index("status"), StatusBadgeDelegate(self.table)
        )
        self.table.setAccessibleName("Orders as of a past moment (read-only)")
        self.table.setToolTip("Enter or double-click: the order's audit view at its version then")
        self.table.activated.connect(self._activated)

        filter_row = QHBoxLayout()
        filter_row.setContentsMargins(8, 6, 8, 0)
        filter_row.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addLayout(filter_row)
        layout.addWidget(self.table, 1)

        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.back_requested)
        # Ctrl+F finds in this list (the live list's Find is off while it is hidden).
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self.search.setFocus)

    @Slot(QModelIndex)
    def _activated(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.order_opened.emit(row.order_id, row.version)

    def show_answer(self, answer: DeskAsOf, asked: datetime) -> None:
        """Show ``answer`` to a question asked for ``asked`` (local)."""
        self.answer = answer
        self.title.setText(f"As of {fmt.format_datetime(asked)} — read-only")
        count = len(answer.rows)
        if answer.recorded_at is None:
            last = "No order had been placed yet."
        else:
            recorded = fmt.format_datetime(answer.recorded_at, seconds=True)
            last = (
                f"{count:,} order{'s' if count != 1 else ''} · the log up to event "
                f"#{answer.position:,}, recorded {recorded} · live changes are not shown"
            )
        self.details.setText(last)
        self.search.clear()
        self.model.set_rows(answer.rows)
        self.table.scrollToTop()
