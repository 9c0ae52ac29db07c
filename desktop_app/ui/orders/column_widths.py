"""Starting widths of the order list's columns, measured in the table's own font.

Fixed pixel widths were either too wide (the customer column got what was left: six
characters at 1280 px) or too narrow for a larger font. Each column gets what its widest usual
value (or its header with the sort arrow) needs; the customer column stretches over the rest.
Measured from sample texts, never ``ResizeToContents`` on a table that may hold a million rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHeaderView, QTableView

from desktop_app.ui import formatting as fmt
from desktop_app.ui.orders.table_model import COLUMNS

PADDING = 12  # cell margins and the grid line
SORT_ARROW = 16  # room for the header's sort indicator (only the sorted column has one)
BADGE = 16 + 6  # the status badge's own padding and its inset (StatusBadgeDelegate)
CUSTOMER_START = 240
CUSTOMER_MINIMUM = 140
"""The customer column never gets narrower than this: in a narrow list (beside a wide History
tab) the table scrolls sideways instead of cutting names to a few letters."""


def _samples() -> dict[str, tuple[str, ...]]:
    when = datetime(2026, 12, 28, 23, 59, tzinfo=UTC)
    return {
        "order_number": ("SO-0000000",),
        "status": tuple(
            fmt.status_label(s) for s in ("pending", "confirmed", "shipped", "delivered")
        ),
        "line_count": ("999",),
        "total": (fmt.format_money(Decimal("99999.99"), "EUR"),),
        "updated_at": (fmt.format_datetime(when),),
        "version": ("99,999",),
    }


def _title_width(table: QTableView, section: int, sorted_: bool) -> int:
    header = QFontMetrics(table.horizontalHeader().font())
    return header.horizontalAdvance(COLUMNS[section].title) + (SORT_ARROW if sorted_ else 0)


def column_widths(table: QTableView, sorted_section: int = -1) -> list[int]:
    """One starting width per column of ``COLUMNS`` for ``table``'s fonts."""
    cells = QFontMetrics(table.font())
    samples = _samples()
    widths = []
    for section, column in enumerate(COLUMNS):
        if column.sort_key == "customer_name":
            widths.append(CUSTOMER_START)
            continue
        title = _title_width(table, section, section == sorted_section)
        texts = samples.get(column.sort_key, ())
        content = max((cells.horizontalAdvance(t) for t in texts), default=0)
        if column.sort_key == "status":
            content += BADGE
        widths.append(max(title, content) + PADDING)
    return widths


def fit_columns(table: QTableView) -> None:
    """Size the columns, and widen a column that becomes the sorted one when its title and
    the sort arrow would not fit (a header cut to "Versi…" is a clipped label)."""
    header = table.horizontalHeader()
    for section, width in enumerate(column_widths(table, header.sortIndicatorSection())):
        header.resizeSection(section, width)

    def sorted_on(section: int, _order: object) -> None:
        if not 0 <= section < len(COLUMNS) or COLUMNS[section].sort_key == "customer_name":
            return
        needed = _title_width(table, section, True) + PADDING
        if header.sectionSize(section) < needed:
            header.resizeSection(section, needed)

    header.sortIndicatorChanged.connect(sorted_on)
    guard = _CustomerWidthGuard(table)
    table.viewport().installEventFilter(guard)
    header.sectionResized.connect(lambda *_a: guard.fit())


class _CustomerWidthGuard(QObject):
    """The customer column stretches over the room left, but not below ``CUSTOMER_MINIMUM``."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self.table = table
        self.column = next(i for i, c in enumerate(COLUMNS) if c.sort_key == "customer_name")
        self._fitting = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        if self._fitting:
            return
        self._fitting = True
        try:
            header = self.table.horizontalHeader()
            others = sum(
                header.sectionSize(i)
                for i in range(header.count())
                if i != self.column and not header.isSectionHidden(i)
            )
            room = self.table.viewport().width() - others
            stretch = QHeaderView.ResizeMode.Stretch
            if room >= CUSTOMER_MINIMUM:
                if header.sectionResizeMode(self.column) != stretch:
                    header.setSectionResizeMode(self.column, stretch)
            elif header.sectionResizeMode(self.column) == stretch:
                header.setSectionResizeMode(self.column, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(self.column, CUSTOMER_MINIMUM)
        finally:
            self._fitting = False
