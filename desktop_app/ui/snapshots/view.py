"""The snapshot inspector: an order's snapshots, the state each holds, a check against a
replay of the events, and "take a snapshot now". All bus calls go through the TaskRunner."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import TakeSnapshot
from desktop_app.application.ports import SnapshotInfo
from desktop_app.application.queries import (
    AggregateState,
    GetOrderSnapshot,
    ListOrderSnapshots,
    SnapshotCheck,
    VerifyOrderSnapshot,
)
from desktop_app.ui.history import _format as fmt
from desktop_app.ui.history.state_views import DiffView, StateTree
from desktop_app.ui.snapshots.model import SnapshotTableModel
from desktop_app.ui.tasks import TaskRunner

T = TypeVar("T")

_OK = "color: #166534; font-weight: bold;"
_WARN = "color: #92400e; font-weight: bold;"
_BAD = "color: #b91c1c; font-weight: bold;"
_MUTED = "color: #64748b;"
READ_ONLY_TIP = "The database is open read-only, so no snapshot can be stored."


class SnapshotInspector(QWidget):
    """Snapshots of one order: list, stored state, verify against replay, take one now."""

    snapshots_loaded = Signal(int)  # number of snapshots listed
    state_loaded = Signal(int)  # version whose stored state is shown
    verified = Signal(object)  # SnapshotCheck
    snapshot_taken = Signal(int)  # version of the new snapshot
    failed = Signal(str)

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._commands = commands
        self._queries = queries
        self._tasks = tasks
        self._order_id: str | None = None
        self._read_only = False
        self._busy_taking = False
        self._list_ticket = 0
        self._state_ticket = 0
        self._verify_ticket = 0
        self._build()
        self._update_buttons()

    # --- public interface ----------------------------------------------------------------

    @property
    def order_id(self) -> str | None:
        """The order shown (None: no order selected)."""
        return self._order_id

    def show_order(self, order_id: str | None) -> None:
        """Inspect the snapshots of ``order_id`` (None: nothing selected)."""
        if order_id == self._order_id and order_id is not None:
            self.refresh()
            return
        self._order_id = order_id
        self._list_ticket += 1
        self._state_ticket += 1
        self._verify_ticket += 1
        self.model.set_snapshots(())
        self._clear_selection_views()
        self._set_status("")
        if order_id is None:
            self.title.setText("Select an order to inspect its snapshots.")
            self._update_buttons()
            return
        self.title.setText("Loading snapshots…")
        self._load(order_id, select_version=None)
        self._update_buttons()

    def refresh(self) -> None:
        """Reload the list, keeping the selected snapshot."""
        if self._order_id is None:
            return
        self._list_ticket += 1
        self._load(self._order_id, select_version=self.selected_version())

    def set_read_only(self, read_only: bool) -> None:
        """In read-only mode nothing can be written: "Take snapshot now" is disabled."""
        self._read_only = read_only
        self._update_buttons()

    def selected_version(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid() or not self.table.selectionModel().isSelected(index):
            return None
        return self.model.info(index.row()).version

    def select_version(self, version: int) -> bool:
        row = self.model.row_of_version(version)
        if row < 0:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        return True

    # --- building --------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = QLabel(self)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() + 1)
        self.title.setFont(font)

        self.take_button = QPushButton("&Take snapshot now", self)
        self.take_button.setToolTip("Store the order's current state as a snapshot")
        self.take_button.clicked.connect(self.take_snapshot)
        self.verify_button = QPushButton("&Verify against replay", self)
        self.verify_button.setToolTip(
            "Rebuild the state from the events up to the snapshot's version and compare"
        )
        self.verify_button.clicked.connect(self.verify_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.title, 1)
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.take_button)

        self.model = SnapshotTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("snapshotTable")
        self.table.setAccessibleName("Snapshots of this order")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in enumerate((80, 170, 90, 70)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.empty_note = QLabel(self)
        self.empty_note.setStyleSheet(_MUTED)
        self.empty_note.setWordWrap(True)

        self.state_title = QLabel("Stored state", self)
        self.state_tree = StateTree(self)
        self.state_tree.setObjectName("snapshotState")
        self.state_tree.setAccessibleName("State stored in the snapshot")
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.state_title)
        left_layout.addWidget(self.state_tree, 1)

        self.verdict = QLabel(self)
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        self.problem = QLabel(self)
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.differences = DiffView(self)
        self.differences.setObjectName("snapshotDifferences")
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(QLabel("Check against replay", self))
        right_layout.addWidget(self.verdict)
        right_layout.addWidget(self.problem)
        right_layout.addWidget(self.differences, 1)

        lower = QSplitter(Qt.Orientation.Horizontal, self)
        lower.addWidget(left)
        lower.addWidget(right)
        lower.setChildrenCollapsible(False)
        upper = QWidget(self)
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(buttons)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addWidget(self.empty_note)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)

        self.status = QLabel(self)
        self.status.setObjectName("snapshotStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

        QWidget.setTabOrder(self.verify_button, self.take_button)
        QWidget.setTabOrder(self.take_button, self.table)
        QWidget.setTabOrder(self.table, self.state_tree)
        QWidget.setTabOrder(self.state_tree, self.differences.table)

    # --- helpers ---------------------------------------------------------------------------

    def _submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        def done(result: T) -> None:
            if shiboken6.isValid(self):
                on_done(result)

        def error(exc: BaseException) -> None:
            if shiboken6.isValid(self):
                (on_error or self._on_error)(exc)

        self._tasks.submit(fn, done, error)

    def _on_error(self, exc: BaseException) -> None:
        text = str(exc).strip() or "The snapshots could not be read."
        self._set_status(text, _BAD)
        self.failed.emit(text)

    def _set_status(self, text: str, style: str = _MUTED) -> None:
        self.status.setStyleSheet(style)
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _update_buttons(self) -> None:
        has_order = self._order_id is not None
        self.take_button.setEnabled(has_order and not self._read_only and not self._busy_taking)
        self.take_button.setToolTip(
            READ_ONLY_TIP if self._read_only else "Store the order's current state as a snapshot"
        )
        self.verify_button.setEnabled(self.selected_version() is not None)

    def _clear_selection_views(self) -> None:
        self.state_title.setText("Stored state")
        self.state_tree.set_state(None)
        self.verdict.setText("Select a snapshot and press “Verify against replay”.")
        self.verdict.setStyleSheet(_MUTED)
        self.problem.hide()
        self.differences.show_message("")

    # --- list ------------------------------------------------------------------------------

    def _load(self, order_id: str, select_version: int | None) -> None:
        ticket = self._list_ticket
        queries = self._queries
        self._submit(
            lambda: queries.ask(ListOrderSnapshots(order_id=order_id)),
            lambda rows: self._on_list(ticket, rows, select_version),
        )

    def _on_list(self, ticket: int, rows: list[SnapshotInfo], select: int | None) -> None:
        if ticket != self._list_ticket:
            return
        keep = select is not None and select == self.selected_version()
        self.model.set_snapshots(rows)
        count = len(rows)
        self.title.setText(f"{count} snapshot{'s' if count != 1 else ''}")
        self.empty_note.setText(
            ""
            if rows
            else "No snapshots yet. They are taken automatically as an order grows; "
            "you can also take one now."
        )
        self.empty_note.setVisible(not rows)
        if rows:
            if keep:
                self.table.selectionModel().blockSignals(True)
            if select is None or not self.select_version(select):
                self.select_version(self.model.info(0).version)
            if keep:
                self.table.selectionModel().blockSignals(False)
        else:
            self._clear_selection_views()
        self._update_buttons()
        self.snapshots_loaded.emit(count)

    # --- selection -------------------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_buttons()
        if not current.isValid() or self._order_id is None:
            return
        info = self.model.info(current.row())
        self._clear_selection_views()
        self._verify_ticket += 1
        self._state_ticket += 1
        ticket = self._state_ticket
        order_id = self._order_id
        queries = self._queries
        self.state_title.setText(f"Stored state at v{info.version} (loading…)")
        self._submit(
            lambda: queries.ask(GetOrderSnapshot(order_id=order_id, version=info.version)),
            lambda state: self._on_state(ticket, info, state),
        )

    def _on_state(self, ticket: int, info: SnapshotInfo, state: AggregateState | None) -> None:
        if ticket != self._state_ticket:
            return
        if state is None:
            self.state_title.setText(f"Stored state at v{info.version}: unreadable")
            self.state_tree.set_state(None)
        else:
            self.state_title.setText(
                f"Stored state at v{info.version} · taken {fmt.local_time(info.taken_at)}"
            )
            self.state_tree.set_state(state.state)
        self.state_loaded.emit(info.version)

    # --- verify ----------------------------------------------------------------------------

    @Slot()
    def verify_selected(self) -> None:
        """Compare the selected snapshot with a replay of the events up to its version."""
        version = self.selected_version()
        order_id = self._order_id
        if version is None or order_id is None:
            return
        self._verify_ticket += 1
        ticket = self._verify_ticket
        queries = self._queries
        self.verdict.setText(f"Replaying the events up to v{version}…")
        self.verdict.setStyleSheet(_MUTED)
        self.problem.hide()
        self.differences.show_message("")
        self._submit(
            lambda: queries.ask(VerifyOrderSnapshot(order_id=order_id, version=version)),
            lambda check: self._on_verified(ticket, check),
        )

    def _on_verified(self, ticket: int, check: SnapshotCheck) -> None:
        if ticket != self._verify_ticket:
            return
        self.problem.hide()
        if not check.usable:
            self.verdict.setText(f"✗ Snapshot v{check.version} is not usable")
            self.verdict.setStyleSheet(_BAD)
            self.problem.setText(check.problem or "The snapshot cannot be read.")
            self.problem.show()
            self.differences.show_message(
                "Orders are rebuilt from their events instead, so nothing is lost."
            )
        elif check.equal:
            self.verdict.setText(f"✓ Equal to replay: v{check.version} matches the events")
            self.verdict.setStyleSheet(_OK)
            self.differences.show_message("No differences.")
        else:
            count = len(check.differences)
            self.verdict.setText(
                f"⚠ Differs from replay: {count} field{'s' if count != 1 else ''} "
                "(“before” is the snapshot, “after” the replay)"
            )
            self.verdict.setStyleSheet(_WARN)
            self.differences.set_changes(
                f"Snapshot v{check.version} compared with the replayed state",
                check.differences,
                "No differences.",
            )
        self.verified.emit(check)

    # --- take ------------------------------------------------------------------------------

    @Slot()
    def take_snapshot(self) -> None:
        """Dispatch ``TakeSnapshot`` for the order and select the new snapshot."""
        order_id = self._order_id
        if order_id is None or self._read_only or self._busy_taking:
            return
        self._busy_taking = True
        self._update_buttons()
        self._set_status("Taking a snapshot…")
        commands = self._commands
        command = TakeSnapshot(order_id=order_id)
        self._submit(
            lambda: commands.dispatch(command),
            lambda result: self._on_taken(order_id, result.version),
            self._on_take_failed,
        )

    def _on_taken(self, order_id: str, version: int) -> None:
        self._busy_taking = False
        self._update_buttons()
        if order_id != self._order_id:
            return
        self._set_status(f"Snapshot taken at v{version}.", _OK)
        self._list_ticket += 1
        self._load(order_id, select_version=version)
        self.snapshot_taken.emit(version)

    def _on_take_failed(self, exc: BaseException) -> None:
        self._busy_taking = False
        self._update_buttons()
        self._on_error(exc)
