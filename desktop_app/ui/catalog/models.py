"""Table models over the catalog's frozen read-model rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from desktop_app.application.queries import CustomerRow, ProductRow
from desktop_app.domain.catalog import sku_key
from desktop_app.ui.formatting import format_date
from desktop_app.ui.orders.form_base import minor_text

SHARED_SKU_TIP = (
    "Another product has the same SKU: it was recorded before SKUs had to be unique. "
    "Check which one orders should use, and discontinue the other."
)

Index = QModelIndex | QPersistentModelIndex
R = TypeVar("R")
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class RowsModel(QAbstractTableModel, Generic[R]):
    """A read-only table over a list of frozen rows; ``key`` identifies a row for upserts."""

    HEADERS: tuple[str, ...] = ()
    NUMERIC: frozenset[int] = frozenset()

    def __init__(self, key: Callable[[R], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[R] = []
        self._key = key

    def rows(self) -> list[R]:
        """The rows, in order."""
        return list(self._rows)

    def set_rows(self, rows: Sequence[R]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, position: int) -> R | None:
        """The row at ``position`` (None when out of range)."""
        return self._rows[position] if 0 <= position < len(self._rows) else None

    def position_of(self, key: str) -> int:
        """Where the row with ``key`` is (-1 when absent)."""
        for position, row in enumerate(self._rows):
            if self._key(row) == key:
                return position
        return -1

    def upsert(self, row: R) -> int:
        """Replace the row with the same key, or append it; returns its position."""
        position = self.position_of(self._key(row))
        if position < 0:
            position = len(self._rows)
            self.beginInsertRows(QModelIndex(), position, position)
            self._rows.append(row)
            self.endInsertRows()
        else:
            self._rows[position] = row
            self.dataChanged.emit(
                self.index(position, 0), self.index(position, len(self.HEADERS) - 1)
            )
        return position

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self.NUMERIC:
            return _RIGHT
        if role == Qt.ItemDataRole.UserRole:
            return self._key(row)
        return self.extra(row, index.column(), role)

    def text(self, row: R, column: int) -> str | None:
        """Display text of one cell."""
        raise NotImplementedError

    def extra(self, row: R, column: int, role: int) -> Any:
        """Other roles (colours, tooltips)."""
        return None


class CustomersModel(RowsModel[CustomerRow]):
    """Customers: name, since when, order count, lifetime value per currency."""

    NAME, SINCE, ORDERS, VALUE = range(4)
    HEADERS = ("Name", "Customer since", "Orders", "Lifetime value")
    NUMERIC = frozenset({ORDERS, VALUE})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(lambda row: row.customer_id, parent)

    def text(self, row: CustomerRow, column: int) -> str | None:
        if column == self.NAME:
            return row.name
        if column == self.SINCE:
            return format_date(row.registered_at) if row.registered_at is not None else "—"
        if column == self.ORDERS:
            return str(row.order_count)
        if column == self.VALUE:
            parts = [minor_text(minor, currency) for currency, minor in row.lifetime_value]
            return " + ".join(parts) if parts else "—"
        return None


class ProductsModel(RowsModel[ProductRow]):
    """Products: SKU, name, price, status, units sold; discontinued ones greyed."""

    SKU, NAME, PRICE, STATUS, SOLD = range(5)
    HEADERS = ("SKU", "Name", "Price", "Status", "Units sold")
    NUMERIC = frozenset({PRICE, SOLD})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(lambda row: row.product_id, parent)
        self._shared: set[str] = set()

    def set_rows(self, rows: Sequence[ProductRow]) -> None:
        """Replace every row; SKUs held by more than one product are marked."""
        seen: set[str] = set()
        shared: set[str] = set()
        for row in rows:
            key = sku_key(row.sku)
            (shared if key in seen else seen).add(key)
        self._shared = shared
        super().set_rows(rows)

    def shared_sku(self, row: ProductRow) -> bool:
        """True when another listed product has the same SKU (a file from before SKUs had to
        be unique)."""
        return sku_key(row.sku) in self._shared

    def text(self, row: ProductRow, column: int) -> str | None:
        if column == self.SKU:
            return row.sku
        if column == self.NAME:
            return row.name
        if column == self.PRICE:
            return minor_text(row.price_minor, row.currency)
        if column == self.STATUS:
            status = "Discontinued" if row.discontinued else "On sale"
            return f"{status} · SKU shared" if self.shared_sku(row) else status
        if column == self.SOLD:
            return str(row.units_sold)
        return None

    def extra(self, row: ProductRow, column: int, role: int) -> Any:
        if self.shared_sku(row) and column in (self.SKU, self.STATUS):
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor("#b3261e"))
            if role == Qt.ItemDataRole.ToolTipRole:
                return SHARED_SKU_TIP
        if role == Qt.ItemDataRole.ForegroundRole and row.discontinued:
            return QBrush(QColor("#8a8a8a"))
        if role == Qt.ItemDataRole.ToolTipRole and row.discontinued:
            return "Discontinued: no longer offered on orders."
        return None
