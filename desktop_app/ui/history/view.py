"""The event-history timeline of one order: a drawn timeline (left), the selected event's
payload and metadata, and its state and field-by-field changes (right).

Every query goes through the ``TaskRunner``; results that arrive for an order or an event the
user has already left are dropped (each request carries a ticket).

Over 500 lines on purpose: the timeline, payload and state panes answer one ticketed request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import QuerySender
from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import (
    AggregateState,
    AuditNoteEntry,
    GetOrderAtVersion,
    GetOrderDiff,
    GetOrderHistory,
    HistoryEntry,
    StateDiff,
)
from desktop_app.ui.audit.marks import (
    NOTE_COLOUR,
    REFUSED_COLOUR,
    OrderMarks,
    command_label,
    note_author,
    note_line,
    notes_by_target,
    read_marks,
)
from desktop_app.ui.flow_layout import FlowLayout
from desktop_app.ui.history import _format as fmt
from desktop_app.ui.history.event_style import ORDER_EVENT_TYPES, marker_icon, style_for
from desktop_app.ui.history.state_views import DiffView, StateTree
from desktop_app.ui.history.timeline_delegate import TimelineDelegate
from desktop_app.ui.history.timeline_model import TimelineModel
from desktop_app.ui.tasks import TaskRunner

T = TypeVar("T")

TYPE_ROLE = Qt.ItemDataRole.UserRole + 20
_DETAIL_DELAY_MS = 60  # holding an arrow key down asks for the state of the last row only


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or "The history could not be read."


class _TypeList(QListWidget):
    """Checkable event types laid out in as many columns as fit; as tall as its rows."""

    def fit(self) -> None:
        metrics = self.fontMetrics()
        widest = max(
            (metrics.horizontalAdvance(self.item(i).text()) for i in range(self.count())),
            default=80,
        )
        cell = QSize(widest + 58, metrics.height() + 8)
        self.setGridSize(cell)
        columns = max(1, self.viewport().width() // cell.width())
        rows = max(1, -(-self.count() // columns))
        self.setFixedHeight(rows * cell.height() + 2 * self.frameWidth() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()


class _ShareSplitter(QSplitter):
    """A horizontal splitter that keeps its two panes at ``left:right`` (within their minimum
    sizes) until the user drags the handle. Stretch factors alone only share out the space
    beyond the size hints, which left the timeline too narrow to read."""

    def __init__(self, left: int, right: int, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._share = (left, right)
        self._dragged = False
        self.splitterMoved.connect(self._on_moved)

    def _on_moved(self, _pos: int, _index: int) -> None:
        self._dragged = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        total = sum(self.sizes())
        if not self._dragged and total > 0 and self.count() == 2:
            left, right = self._share
            first = total * left // (left + right)
            self.setSizes([first, total - first])


class HistoryView(QWidget):
    """Timeline of an order's events with details, state at a version, and version diffs."""

    history_loaded = Signal(int)  # number of events loaded
    details_loaded = Signal(int)  # version whose state and diff are shown
    compare_loaded = Signal(int, int)  # from_version, to_version now in the changes pane
    failed = Signal(str)

    def __init__(
        self, queries: QuerySender, tasks: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._queries = queries
        self._tasks = tasks
        self._order_id: str | None = None
        self._load_ticket = 0
        self._detail_ticket = 0
        self._compare_ticket = 0
        self._pending_version: int | None = None
        self._shown_version: int | None = None
        self._wanted: tuple[str, int] | None = None  # show_version's order and version
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(_DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._request_details)
        self._build()

    # --- public interface (used by the main window) ----------------------------------------

    def show_order(self, order_id: str | None) -> None:
        """Show the history of ``order_id`` (None: nothing selected)."""
        if order_id == self._order_id and order_id is not None:
            self.refresh()
            return
        self._order_id = order_id
        self._load_ticket += 1
        self._detail_ticket += 1
        self._compare_ticket += 1
        self._shown_version = None
        self.model.set_entries(())
        self._clear_details()
        if order_id is None:
            self._stack.setCurrentWidget(self._placeholder)
            return
        self._stack.setCurrentWidget(self._content)
        self.header.setText("Loading history…")
        self._load(order_id, select_version=None)

    def refresh(self) -> None:
        """Reload the current order's history, keeping the selected event and scroll."""
        if self._order_id is None:
            return
        self._load_ticket += 1
        self._load(self._order_id, select_version=self.selected_version())

    def focus_filter(self) -> None:
        """Put the keyboard focus on the event-type filter."""
        self.type_list.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if self.type_list.currentRow() < 0 and self.type_list.count():
            self.type_list.setCurrentRow(0)

    def focus_compare(self) -> None:
        """Put the keyboard focus on the "compare vN with vM" controls."""
        self.from_spin.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.from_spin.selectAll()

    def order_id(self) -> str | None:
        return self._order_id

    def selected_version(self) -> int | None:
        """Version of the selected event (None when nothing or a refused command is
        selected)."""
        index = self.timeline.currentIndex()
        if not index.isValid() or not self.timeline.selectionModel().isSelected(index):
            return None
        if self.model.refused_at(index.row()) is not None:
            return None
        return self.model.entry(index.row()).version

    def select_version(self, version: int) -> bool:
        """Select the event of ``version`` if it is shown."""
        row = self.model.row_of_version(version)
        if row < 0:
            return False
        index = self.model.index(row, 0)
        self.timeline.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.timeline.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        return True

    def show_version(self, order_id: str, version: int) -> None:
        """Show ``order_id``'s history with the event of ``version`` selected, as soon as
        it is loaded (a verify finding opened from the Tools menu)."""
        self._wanted = (order_id, version)
        if self._order_id == order_id and self.select_version(version):
            self._wanted = None
            return
        self.show_order(order_id)

    def compare(self, from_version: int, to_version: int) -> None:
        """Show the changes between two versions (0: before the order existed)."""
        self.from_spin.setValue(from_version)
        self.to_spin.setValue(to_version)
        self._run_compare()

    # --- building ----------------------------------------------------------------------------

    def _build(self) -> None:
        self._placeholder = QLabel("Select an order to see its history.", self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("color: #64748b;")

        self._content = QWidget(self)
        self.header = QLabel(self._content)
        self.header.setObjectName("historyHeader")
        header_font = self.header.font()
        header_font.setBold(True)
        header_font.setPointSizeF(header_font.pointSizeF() + 1)
        self.header.setFont(header_font)
        self.order_notes = QLabel(self._content)
        self.order_notes.setObjectName("historyOrderNotes")
        self.order_notes.setWordWrap(True)
        self.order_notes.setStyleSheet(f"color: {NOTE_COLOUR.name()};")
        self.order_notes.hide()
        self.marks = OrderMarks()
        """The shown order's auditors' notes and refused commands."""

        types_label = QLabel("Event t&ypes:", self._content)
        self.type_list = _TypeList(self._content)
        self.type_list.setObjectName("typeFilter")
        self.type_list.setAccessibleName("Event types shown")
        self.type_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.type_list.setFlow(QListView.Flow.LeftToRight)
        self.type_list.setWrapping(True)
        self.type_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.type_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.type_list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.type_list.itemChanged.connect(self._on_type_toggled)
        types_label.setBuddy(self.type_list)
        self.all_types = QToolButton(self._content)
        self.all_types.setText("Show all")
        self.all_types.setToolTip("Show every event type again")
        self.all_types.clicked.connect(self._show_all_types)
        self.filter_note = QLabel(self._content)
        self.filter_note.setStyleSheet("color: #64748b;")
        self._fill_type_list({})

        self.model = TimelineModel(self)
        self.timeline = QListView(self._content)
        self.timeline.setObjectName("timeline")
        self.timeline.setAccessibleName("Event timeline")
        self.timeline.setModel(self.model)
        self.timeline.setItemDelegate(TimelineDelegate(self.timeline))
        self.timeline.setUniformItemSizes(True)
        self.timeline.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.timeline.setResizeMode(QListView.ResizeMode.Adjust)
        self.timeline.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.timeline.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.timeline.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.timeline.setMouseTracking(False)
        self.timeline.selectionModel().currentChanged.connect(self._on_current_changed)

        filter_row = QHBoxLayout()
        filter_row.addWidget(types_label)
        filter_row.addStretch(1)
        filter_row.addWidget(self.filter_note)
        filter_row.addWidget(self.all_types)
        left = QWidget(self._content)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.header)
        left_layout.addWidget(self.order_notes)
        left_layout.addLayout(filter_row)
        left_layout.addWidget(self.type_list)
        left_layout.addWidget(self.timeline, 1)

        # Right: event details, then compare controls and the changes/state tabs.
        self.event_title = QLabel(self._content)
        self.event_title.setFont(header_font)
        self.details = QTreeWidget(self._content)
        self.details.setObjectName("eventDetails")
        self.details.setAccessibleName("Event payload and metadata")
        self.details.setColumnCount(2)
        self.details.setHeaderLabels(["Field", "Value"])
        self.details.setUniformRowHeights(True)
        self.details.setAlternatingRowColors(True)
        self.details.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.details.header().resizeSection(0, 170)
        self.details.header().setStretchLastSection(True)
        self.details.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        details_box = QWidget(self._content)
        details_layout = QVBoxLayout(details_box)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.event_title)
        details_layout.addWidget(self.details, 1)

        compare_label = QLabel("Co&mpare", self._content)
        self.from_spin = QSpinBox(self._content)
        self.from_spin.setObjectName("compareFrom")
        self.from_spin.setAccessibleName("Compare from version")
        self.from_spin.setPrefix("v")
        self.from_spin.setSpecialValueText("start")
        self.from_spin.setRange(0, 0)
        compare_label.setBuddy(self.from_spin)
        with_label = QLabel("with", self._content)
        self.to_spin = QSpinBox(self._content)
        self.to_spin.setObjectName("compareTo")
        self.to_spin.setAccessibleName("Compare to version")
        self.to_spin.setPrefix("v")
        self.to_spin.setRange(0, 0)
        self.compare_button = QPushButton("Show &changes", self._content)
        self.compare_button.setToolTip("Field-by-field changes between the two versions")
        self.compare_button.clicked.connect(self._run_compare)
        for spin in (self.from_spin, self.to_spin):
            # Enter in either box shows the changes (leaving it with Tab does not).
            spin.lineEdit().returnPressed.connect(self._run_compare)
        self.previous_button = QPushButton("&Previous version", self._content)
        self.previous_button.setToolTip("Compare the selected event with the version before it")
        self.previous_button.clicked.connect(self._compare_with_previous)
        compare_row = FlowLayout()  # wraps in a narrow panel instead of clipping the buttons
        compare_row.addWidget(compare_label)
        compare_row.addWidget(self.from_spin)
        compare_row.addWidget(with_label)
        compare_row.addWidget(self.to_spin)
        compare_row.addWidget(self.compare_button)
        compare_row.addWidget(self.previous_button)

        self.diff_view = DiffView(self._content)
        self.diff_view.setObjectName("diffView")
        self.state_tree = StateTree(self._content)
        self.state_tree.setObjectName("stateTree")
        self.state_tree.setAccessibleName("State at this version")
        self.tabs = QTabWidget(self._content)
        self.tabs.addTab(self.diff_view, "Changes")
        self.tabs.addTab(self.state_tree, "State at this version")
        lower = QWidget(self._content)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(compare_row)
        lower_layout.addWidget(self.tabs, 1)

        right = QSplitter(Qt.Orientation.Vertical, self._content)
        right.addWidget(details_box)
        right.addWidget(lower)
        right.setChildrenCollapsible(False)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)

        splitter = _ShareSplitter(5, 6, self._content)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        self._splitter = splitter

        self.status = QLabel(self._content)
        self.status.setObjectName("historyStatus")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #b91c1c;")
        self.status.hide()

        content_layout = QVBoxLayout(self._content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(splitter, 1)
        content_layout.addWidget(self.status)

        self._stack = QStackedWidget(self)
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self._content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

        QWidget.setTabOrder(self.type_list, self.all_types)
        QWidget.setTabOrder(self.all_types, self.timeline)
        QWidget.setTabOrder(self.timeline, self.details)
        QWidget.setTabOrder(self.details, self.from_spin)
        QWidget.setTabOrder(self.from_spin, self.to_spin)
        QWidget.setTabOrder(self.to_spin, self.compare_button)
        QWidget.setTabOrder(self.compare_button, self.previous_button)
        QWidget.setTabOrder(self.previous_button, self.tabs)
        self._set_compare_enabled(False)

    def _fill_type_list(self, counts: Mapping[str, int]) -> None:
        shown = self.model.type_filter() if hasattr(self, "model") else None
        names = list(ORDER_EVENT_TYPES) + sorted(t for t in counts if t not in ORDER_EVENT_TYPES)
        self.type_list.blockSignals(True)
        self.type_list.clear()
        for name in names:
            item = QListWidgetItem(marker_icon(name), self._type_text(name, counts.get(name, 0)))
            item.setData(TYPE_ROLE, name)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsSelectable
            )
            checked = shown is None or name in shown
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            item.setToolTip(f"Show or hide “{style_for(name).label}” events ({name})")
            self.type_list.addItem(item)
        self.type_list.blockSignals(False)
        self.type_list.fit()

    @staticmethod
    def _type_text(name: str, number: int) -> str:
        return f"{style_for(name).label} ({fmt.count(number)})"

    # --- loading the history -----------------------------------------------------------------

    def _submit(self, fn: Callable[[], T], on_done: Callable[[T], None]) -> None:
        """Run ``fn`` on the pool; callbacks are dropped if this widget is gone by then."""

        def done(result: T) -> None:
            if shiboken6.isValid(self):
                on_done(result)

        def error(exc: BaseException) -> None:
            if shiboken6.isValid(self):
                self._show_error(_error_text(exc))

        self._tasks.submit(fn, done, error)

    def _load(self, order_id: str, select_version: int | None) -> None:
        ticket = self._load_ticket
        if self._wanted is not None and self._wanted[0] == order_id:
            select_version = self._wanted[1]
        elif self._wanted is not None:
            self._wanted = None  # another order was chosen meanwhile
        queries = self._queries

        def fetch() -> tuple[list[HistoryEntry], OrderMarks]:
            entries = queries.ask(GetOrderHistory(order_id=order_id))
            return entries, read_marks(queries, order_id)

        self._submit(
            fetch,
            lambda answer: self._on_history(ticket, answer[0], select_version, answer[1]),
        )

    def _on_history(
        self,
        ticket: int,
        entries: list[HistoryEntry],
        select_version: int | None,
        marks: OrderMarks | None = None,
    ) -> None:
        if ticket != self._load_ticket:
            return
        self._hide_error()
        self._set_marks(marks or OrderMarks())
        scroll = self.timeline.verticalScrollBar()
        at_end = scroll.value() >= scroll.maximum()
        old_scroll = scroll.value()
        keep_details = select_version is not None and select_version == self._shown_version
        self.model.set_entries(entries, self.marks.refused)
        self._fill_type_list(self.model.type_counts())
        newest = self.model.max_version()
        self.from_spin.setRange(0, max(newest - 1, 0))
        self.to_spin.setRange(min(newest, 1), newest)
        self._update_header()
        if not entries:
            self._clear_details()
            self.event_title.setText("This order has no recorded events.")
            self.history_loaded.emit(0)
            return
        row = self.model.row_of_version(select_version) if select_version is not None else -1
        if self._wanted is not None and self._wanted[0] == self._order_id:
            self._wanted = None  # shown (or, if the version is not there, the newest instead)
        if row < 0:
            row = self.model.last_event_row()
            at_end = True
        if keep_details:
            # Same event as before: reselect quietly, the state shown is still right.
            self.timeline.selectionModel().blockSignals(True)
        index = self.model.index(row, 0)
        self.timeline.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        if keep_details:
            self.timeline.selectionModel().blockSignals(False)
            self.timeline.viewport().update()
        if at_end:
            self.timeline.scrollToBottom()
        else:
            scroll.setValue(old_scroll)
        self.history_loaded.emit(len(entries))

    def _set_marks(self, marks: OrderMarks) -> None:
        self.marks = marks
        by_target = notes_by_target(marks.notes)
        self.model.set_notes(by_target)
        on_order = by_target.get(0, [])
        lines = [note_line(note) for note in on_order[-3:]]
        if len(on_order) > 3:
            lines.insert(0, f"… {len(on_order) - 3} earlier notes on the order")
        if marks.remark:
            lines.append(marks.remark)
        self.order_notes.setText("\n".join(lines))
        self.order_notes.setToolTip(
            "\n\n".join(f"{note_line(n)}\n{n.text}" for n in on_order) or marks.remark
        )
        self.order_notes.setVisible(bool(lines))

    def _update_header(self) -> None:
        entries = self.model.all_entries()
        number = ""
        for entry in entries[:1]:
            number = str(entry.payload.get("order_number", "")) if entry.payload else ""
        total = len(entries)
        title = f"{number} · " if number else ""
        title += f"{fmt.count(total)} event{'s' if total != 1 else ''}"
        refused = self.model.refused_count()
        if refused:
            title += f" · {fmt.count(refused)} refused"
        self.header.setText(title)
        shown = self.model.shown_events()
        self.filter_note.setText(
            "" if shown == total else f"showing {fmt.count(shown)} of {fmt.count(total)}"
        )

    # --- filter ------------------------------------------------------------------------------

    @Slot(QListWidgetItem)
    def _on_type_toggled(self, item: QListWidgetItem) -> None:
        checked = {
            self.type_list.item(i).data(TYPE_ROLE)
            for i in range(self.type_list.count())
            if self.type_list.item(i).checkState() == Qt.CheckState.Checked
        }
        everything = {self.type_list.item(i).data(TYPE_ROLE) for i in range(self.type_list.count())}
        self.set_type_filter(None if checked == everything else checked)

    def set_type_filter(self, type_names: set[str] | frozenset[str] | None) -> None:
        """Show only these event types (None: all), keeping the selection when it stays."""
        keep = self.selected_version()
        self.model.set_type_filter(type_names)
        self.type_list.blockSignals(True)
        for i in range(self.type_list.count()):
            item = self.type_list.item(i)
            on = type_names is None or item.data(TYPE_ROLE) in type_names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.type_list.blockSignals(False)
        self._update_header()
        if self.model.rowCount() == 0:
            return
        if keep is not None and self.model.row_of_version(keep) >= 0:
            self.timeline.selectionModel().blockSignals(True)
            self.select_version(keep)
            self.timeline.selectionModel().blockSignals(False)
            self.timeline.viewport().update()
        elif self.model.last_event_row() >= 0:
            self.select_version(self.model.entry(self.model.last_event_row()).version)

    @Slot()
    def _show_all_types(self) -> None:
        self.set_type_filter(None)

    # --- selection and details ---------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        refused = self.model.refused_at(current.row())
        if refused is not None:
            self._show_refused(refused)
            return
        entry = self.model.entry(current.row())
        self._show_entry(entry)
        self._set_compare_enabled(True)
        self.from_spin.setValue(entry.version - 1)
        self.to_spin.setValue(entry.version)
        self._pending_version = entry.version
        self._detail_ticket += 1
        self._compare_ticket += 1
        self.diff_view.show_message(
            "Loading changes…", self._diff_title(entry.version - 1, entry.version)
        )
        self._detail_timer.start()

    def _show_entry(self, entry: HistoryEntry) -> None:
        style = style_for(entry.type_name)
        self.event_title.setText(f"v{entry.version} · {style.label}")
        self.details.setUpdatesEnabled(False)
        self.details.clear()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        md = entry.metadata

        def section(title: str) -> QTreeWidgetItem:
            item = QTreeWidgetItem(self.details, [title])
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            item.setFirstColumnSpanned(True)
            item.setExpanded(True)
            return item

        def row(parent: QTreeWidgetItem, name: str, value: str, fixed: bool = False) -> None:
            item = QTreeWidgetItem(parent, [name, value])
            item.setToolTip(1, value)
            if fixed:
                item.setFont(1, mono)

        event = section("Event")
        row(event, "Summary", entry.summary)
        row(event, "Type", f"{style.label} ({entry.type_name}, schema v{entry.schema_version})")
        row(event, "Version", str(entry.version))
        row(event, "Recorded (local)", fmt.local_time(entry.recorded_at))
        row(event, "Recorded (UTC)", fmt.utc_time(entry.recorded_at))
        row(event, "Position", fmt.count(entry.position))
        row(event, "Event id", entry.event_id, True)
        origin = section("Command and origin")
        row(origin, "Causation id", md.causation_id, True)
        row(origin, "Correlation id", md.correlation_id, True)
        row(origin, "User", md.user)
        if entry.server_role is not None:  # a shared store: the role the server recorded
            row(origin, "Server role", entry.server_role)
        row(origin, "Host", md.host)
        row(origin, "App version", md.app_version)
        row(origin, "Source", md.source)
        notes = self.model.notes_of(entry.version)
        if notes:
            self._fill_notes(section(f"Auditors' notes ({len(notes)})"), notes)
        payload = section("Payload")
        self._fill_payload(payload, entry.payload)
        chain = section("Hash chain")
        row(chain, "Previous hash", entry.prev_hash, True)
        row(chain, "Hash", entry.hash, True)
        self.details.setUpdatesEnabled(True)

    def _show_refused(self, item: RecordedRejection) -> None:
        """A refused command in the details pane: who, when, what, why; nothing to compare."""
        self._detail_timer.stop()
        self._detail_ticket += 1
        self._pending_version = None
        r = item.rejection
        self.event_title.setText(f"Refused · {command_label(r.command_type)}")
        self.details.clear()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        head = QTreeWidgetItem(self.details, ["Refused command — nothing was written"])
        font = head.font(0)
        font.setBold(True)
        head.setFont(0, font)
        head.setFirstColumnSpanned(True)
        head.setExpanded(True)
        for name, value, fixed in (
            ("Why", r.message, False),
            ("When (local)", fmt.local_time(item.recorded_at), False),
            ("When (UTC)", fmt.utc_time(item.recorded_at), False),
            ("User", r.user, False),
            ("Host", r.host, False),
            ("Source", r.source, False),
            ("App version", r.app_version, False),
            ("Command", r.command_type, False),
            ("Error", r.error_class, False),
            ("What was asked", r.content, True),
            ("Rejection number", fmt.count(item.rejection_id), False),
            ("Command id", r.command_id, True),
            ("Correlation id", r.correlation_id, True),
        ):
            row = QTreeWidgetItem(head, [name, value])
            row.setToolTip(1, value)
            row.setForeground(0, REFUSED_COLOUR)
            if fixed:
                row.setFont(1, mono)
        self.state_tree.set_state(None)
        self.tabs.setTabText(1, "State at this version")
        self.tabs.setCurrentWidget(self.diff_view)
        self.diff_view.show_message(
            f"Refused: nothing was written, so there is no change and no state to show.\n\n"
            f"Why: {r.message}",
            f"Refused · {command_label(r.command_type)}",
        )
        self._set_compare_enabled(False)

    def _fill_notes(self, parent: QTreeWidgetItem, notes: tuple[AuditNoteEntry, ...]) -> None:
        for note in notes:
            name = f"{note_author(note)} · {fmt.local_time(note.recorded_at)}"
            text = note.text
            if note.corrects:
                text = f"(corrects note {fmt.short_id(note.corrects)}) {text}"
            if note.corrected_by:
                text = f"(corrected later) {text}"
            item = QTreeWidgetItem(parent, [name, text])
            item.setToolTip(1, note.text)
            item.setForeground(0, NOTE_COLOUR)
            item.setForeground(1, NOTE_COLOUR)

    def _fill_payload(self, parent: QTreeWidgetItem, data: object) -> None:
        pairs: Iterable[tuple[object, object]] = (
            data.items()
            if isinstance(data, Mapping)
            else enumerate(data)
            if isinstance(data, list | tuple)
            else ()
        )
        for key, value in pairs:
            item = QTreeWidgetItem(parent, [f"[{key}]" if isinstance(key, int) else str(key)])
            if isinstance(value, Mapping | list | tuple) and value:
                item.setExpanded(True)
                self._fill_payload(item, value)
            else:
                text = fmt.value(value)
                item.setText(1, text)
                item.setToolTip(1, text)

    @Slot()
    def _request_details(self) -> None:
        version = self._pending_version
        order_id = self._order_id
        if version is None or order_id is None:
            return
        ticket = self._detail_ticket
        queries = self._queries

        def fetch() -> tuple[AggregateState, StateDiff]:
            state = queries.ask(GetOrderAtVersion(order_id=order_id, version=version))
            diff = queries.ask(
                GetOrderDiff(order_id=order_id, from_version=version - 1, to_version=version)
            )
            return state, diff

        self._submit(fetch, lambda result: self._on_details(ticket, version, result))

    def _on_details(
        self, ticket: int, version: int, result: tuple[AggregateState, StateDiff]
    ) -> None:
        if ticket != self._detail_ticket:
            return
        state, diff = result
        self._shown_version = version
        highlights = {change.path: change.kind for change in diff.changes}
        self.state_tree.set_state(state.state, highlights)
        self.tabs.setTabText(1, f"State at v{version}")
        self._show_diff(diff)
        self.details_loaded.emit(version)

    def _diff_title(self, from_version: int, to_version: int) -> str:
        start = "the start" if from_version <= 0 else f"v{from_version}"
        note = " (previous version)" if to_version - from_version == 1 else ""
        return f"Changes from {start} to v{to_version}{note}"

    def _show_diff(self, diff: StateDiff) -> None:
        count = len(diff.changes)
        title = self._diff_title(diff.from_version, diff.to_version)
        title += f" — {count} field{'s' if count != 1 else ''} changed"
        self.diff_view.set_changes(title, diff.changes, "No field changed between these versions.")

    # --- compare two versions ----------------------------------------------------------------

    def _set_compare_enabled(self, enabled: bool) -> None:
        for widget in (self.from_spin, self.to_spin, self.compare_button, self.previous_button):
            widget.setEnabled(enabled)

    @Slot()
    def _compare_with_previous(self) -> None:
        version = self.selected_version()
        if version is not None:
            self.compare(version - 1, version)

    @Slot()
    def _run_compare(self) -> None:
        order_id = self._order_id
        if order_id is None or self.model.max_version() == 0:
            return
        first, second = self.from_spin.value(), self.to_spin.value()
        if first > second:
            first, second = second, first
        if first == second:
            self.diff_view.show_message(
                "Choose two different versions to compare.", f"Comparing v{first} with itself"
            )
            return
        self._compare_ticket += 1
        self._detail_ticket += 1  # a pending "previous version" diff must not overwrite this
        self._detail_timer.stop()
        ticket = self._compare_ticket
        queries = self._queries
        self.tabs.setCurrentWidget(self.diff_view)
        self.diff_view.show_message("Loading changes…", self._diff_title(first, second))
        self._submit(
            lambda: queries.ask(
                GetOrderDiff(order_id=order_id, from_version=first, to_version=second)
            ),
            lambda diff: self._on_compare(ticket, diff),
        )

    def _on_compare(self, ticket: int, diff: StateDiff) -> None:
        if ticket != self._compare_ticket:
            return
        self._show_diff(diff)
        self.compare_loaded.emit(diff.from_version, diff.to_version)

    # --- states ------------------------------------------------------------------------------

    def _clear_details(self) -> None:
        self._detail_timer.stop()
        self._pending_version = None
        self.event_title.setText("Select an event to see its details.")
        self.details.clear()
        self.state_tree.set_state(None)
        self.tabs.setTabText(1, "State at this version")
        self.diff_view.show_message("")
        self._set_compare_enabled(False)
        self.filter_note.setText("")

    def _show_error(self, text: str) -> None:
        self.status.setText(text)
        self.status.show()
        if self.header.text() == "Loading history…":
            self.header.setText("History not available")
        self.failed.emit(text)

    def _hide_error(self) -> None:
        self.status.hide()
        self.status.clear()
