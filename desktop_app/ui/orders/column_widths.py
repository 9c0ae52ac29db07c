"""Starting widths of the order list's columns, measured in the table's own font.

Fixed pixel widths were either too wide (the customer column got what was left: six
characters at 1280 px) or too narrow for a larger font. Each column gets what its widest usual
value (or its header with the sort arrow) needs; the customer column stretches over the rest.
Measured from sample texts, never ``ResizeToContents`` on a table that may hold a million rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QTableView

from desktop_app.ui import formatting as fmt
from desktop_app.ui.orders.table_model import COLUMNS

PADDING = 12  # cell margins and the grid line
SORT_ARROW = 16  # room for the header's sort indicator (only the sorted column has one)
BADGE = 16 + 6  # the status badge's own padding and its inset (StatusBadgeDelegate)
CUSTOMER_START = 240


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
