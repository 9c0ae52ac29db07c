"""The event browser window (View ▸ Event browser, Ctrl+Shift+E): the whole log, filtered, one
page of 100 rows at a time, newest first; Newer/Older page by key (every page is one query on
a worker thread). A row opens its order's audit view at that event (double-click or Enter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import QuerySender
from desktop_app.application.event_browser import (
    BrowseLog,
    Direction,
    LogFilter,
    LogKey,
    LogPage,
    LogRow,
)
from desktop_app.ui import formatting as fmt
from desktop_app.ui.browser.filter_bar import FilterBar
from desktop_app.ui.browser.model import COLUMNS, REFUSED_TIP, LogTableModel, what_text
from desktop_app.ui.errors import show_error
from desktop_app.ui.tasks import TaskRunner

PAGE_ROWS = 100

RowOpener = Callable[[LogRow], str | None]
"""Opens a row's order in the audit view; returns a message when the row opens nothing."""

# Column widths in average characters (the summary takes the rest).
_WIDTHS = {"when": 20, "user": 10, "host": 9, "subject": 19, "what": 24}


class _LogTable(QTableView):
    """The page's table: Enter or Return opens the current row (:attr:`enter_pressed`)."""

    enter_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enter_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class EventBrowser(QWidget):
    """A top-level window over the query bus: filter bar, one page, pager and details."""

    def __init__(
        self,
        queries: Callable[[], QuerySender | None],
        tasks: TaskRunner,
        open_row: RowOpener,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("eventBrowser")
        self.setWindowTitle("Event browser — Order Desk")
        self._queries = queries
        self._tasks = tasks
        self._open_row = open_row
        self.where = LogFilter()
        self.page: LogPage | None = None
        self.pages_back = 0
        """Pages between the newest and the one on screen (-1 after Oldest: not counted)."""
        self._request = 0

        self.filters = FilterBar(self)
        self.filters.applied.connect(self.show_filter)

        self.model = LogTableModel(self)
        self.table = _LogTable(self)
        self.table.setObjectName("browserTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        char = self.fontMetrics().averageCharWidth()
        for column, (key, _title) in enumerate(COLUMNS):
            if key in _WIDTHS:
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(column, _WIDTHS[key] * char + 16)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open_index)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.enter_pressed.connect(self.open_current)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        self.details = QLabel("")
        self.details.setObjectName("browserDetails")
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMargin(8)

        self.newest_button = self._button("Newest", "browserNewest", "Ctrl+Home", self.newest)
        self.newer_button = self._button("◀ Newer", "browserNewer", "Ctrl+PgUp", self.newer)
        self.older_button = self._button("Older ▶", "browserOlder", "Ctrl+PgDown", self.older)
        self.oldest_button = self._button("Oldest", "browserOldest", "Ctrl+End", self.oldest)
        self.open_button = self._button("Open &audit view", "browserOpen", "", self.open_current)
        self.position = QLabel("")
        self.position.setObjectName("browserPosition")
        self.status = QLabel("")
        self.status.setObjectName("browserStatus")
        self.status.setStyleSheet("color: #5c4400;")
        pager = QHBoxLayout()
        pager.setContentsMargins(8, 0, 8, 0)
        for widget in (self.newest_button, self.newer_button, self.older_button):
            pager.addWidget(widget)
        pager.addWidget(self.oldest_button)
        pager.addSpacing(12)
        pager.addWidget(self.position, 1)
        pager.addWidget(self.status)
        pager.addWidget(self.open_button)

        split = QSplitter(Qt.Orientation.Vertical, self)
        split.setObjectName("browserSplit")
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(self.filters)
        layout.addLayout(pager)
        layout.addWidget(split, 1)
        self.setMinimumWidth(800)
        self.resize(1280, 760)
        self._update_buttons()

    def _button(
        self, text: str, name: str, shortcut: str, slot: Callable[[], object]
    ) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAutoDefault(False)
        if shortcut:
            button.setShortcut(QKeySequence(shortcut))
            button.setToolTip(f"{text.strip('◀▶ ')} ({shortcut})")
        button.clicked.connect(slot)
        return button

    # --- paging ---------------------------------------------------------------------------

    def show_filter(self, where: LogFilter) -> None:
        """Show the newest page of ``where``."""
        self.where = where
        self.pages_back = 0
        self._ask(None, "older", 0)

    def refresh(self) -> None:
        """The newest page of the current filter (new events appear)."""
        self.show_filter(self.where)

    def newest(self) -> None:
        self.show_filter(self.where)

    def older(self) -> None:
        if self.page is not None and self.page.has_older:
            self._ask(self.page.oldest, "older", self.pages_back + 1)

    def newer(self) -> None:
        if self.page is not None and self.page.has_newer:
            self._ask(self.page.newest, "newer", max(self.pages_back - 1, 0))

    def oldest(self) -> None:
        self._ask(None, "newer", -1)

    def _ask(self, cursor: LogKey | None, direction: Direction, pages_back: int) -> None:
        queries = self._queries()
        if queries is None:
            self.status.setText("No database is open.")
            return
        self._request += 1
        request = self._request
        query = BrowseLog(where=self.where, cursor=cursor, direction=direction, limit=PAGE_ROWS)
        self.status.setText("Loading…")

        def done(page: LogPage) -> None:
            if request == self._request:  # an older answer than the last question: dropped
                self._show_page(page, pages_back)

        def failed(exc: BaseException) -> None:
            if request == self._request:
                self.status.setText("")
                show_error(self, exc, context="The events could not be read.")

        self._tasks.submit(lambda: queries.ask(query), done, failed)

    def _show_page(self, page: LogPage, pages_back: int) -> None:
        self.page = page
        self.pages_back = pages_back
        self.model.set_rows(page.rows)
        self.status.setText("")
        searched = (
            f" · searched to {fmt.format_datetime(page.searched_to)}; "
            f"{'Older' if page.has_older else 'Newer'} searches on"
            if page.searched_to is not None
            else ""
        )
        if page.rows:
            newest, oldest = page.rows[0].recorded_at, page.rows[-1].recorded_at
            refused = sum(row.kind == "rejection" for row in page.rows)
            extra = f", {fmt.format_int(refused)} refused" if refused else ""
            self.position.setText(
                f"{fmt.format_int(len(page.rows))} rows{extra} · "
                f"{fmt.format_datetime(oldest)} – {fmt.format_datetime(newest)}{searched}"
            )
            self.table.selectRow(0)
        else:
            self.position.setText(
                f"No rows found yet{searched}" if searched else "Nothing matches this filter."
            )
            self.details.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        page = self.page
        self.newer_button.setEnabled(page is not None and page.has_newer)
        self.newest_button.setEnabled(page is not None and page.has_newer)
        self.older_button.setEnabled(page is not None and page.has_older)
        self.oldest_button.setEnabled(page is not None and page.has_older)
        self.open_button.setEnabled(self._selected() is not None)

    # --- rows -----------------------------------------------------------------------------

    def _selected(self) -> LogRow | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        row = self._selected()
        self.open_button.setEnabled(row is not None)
        self.details.setText("" if row is None else details_text(row))

    def _open_index(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self._open(row)

    def open_current(self) -> None:
        """Open the selected row's order in the audit view."""
        row = self._selected()
        if row is not None:
            self._open(row)

    def follow_actions(self, row: LogRow) -> list[tuple[str, LogFilter]]:
        """What a row's context menu offers: the same user, host, command or correlation (the
        rest of the filter kept, except that a command or correlation drops the others)."""
        where = self.where
        return [
            (f"Only by {row.user}", replace(where, user=row.user)),
            (f"Only on {row.host}", replace(where, host=row.host)),
            ("This command's events", LogFilter(command_id=row.command_id)),
            ("Everything of this correlation", LogFilter(correlation_id=row.correlation_id)),
        ]

    def follow(self, where: LogFilter) -> None:
        """Show ``where`` in the filter bar and apply it."""
        self.filters.show_filter(where)
        self.filters.apply()

    def _context_menu(self, point: QPoint) -> None:
        row = self.model.row_at(self.table.indexAt(point).row())
        if row is not None:
            self.row_menu(row).popup(self.table.viewport().mapToGlobal(point))

    def row_menu(self, row: LogRow) -> QMenu:
        """A row's context menu (built, not shown; deleted when closed)."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.setObjectName("browserRowMenu")
        opened = menu.addAction("Open audit view")
        opened.triggered.connect(lambda: self._open(row))
        opened.setEnabled(row.order_id is not None)
        menu.addSeparator()
        for text, where in self.follow_actions(row):
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, w=where: self.follow(w))
        return menu

    def _open(self, row: LogRow) -> None:
        message = self._open_row(row)
        self.status.setText(message or "")


def details_text(row: LogRow) -> str:
    """The details pane: everything about the row, internal ids included."""
    lines = [
        f"{what_text(row)} — {row.subject}",
        row.summary,
        f"{fmt.format_datetime(row.recorded_at, seconds=True)} · by {row.user} on {row.host}"
        f" · {row.source}",
    ]
    if row.kind == "rejection":
        lines.append(REFUSED_TIP)
        lines.append(f"Aimed at: {row.stream_id or '(no stream)'}")
    else:
        lines.append(f"Event #{fmt.format_int(row.position or 0)} · {row.stream_id} v{row.version}")
    lines.append(f"Command {row.command_id} · correlation {row.correlation_id}")
    return "\n".join(lines)


__all__ = ["PAGE_ROWS", "EventBrowser", "RowOpener", "details_text"]
