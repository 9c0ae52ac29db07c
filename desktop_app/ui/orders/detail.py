"""The order detail panel: header, ship-to address, lines, totals, shipping/cancellation, notes,
and the actions the domain allows in this status (the others disabled, their tooltip saying
why)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.queries import OrderActions
from desktop_app.ui.flow_layout import FlowLayout
from desktop_app.ui.orders.form_base import (
    CommandDialog,
    StatusBadge,
    datetime_text,
    guarded,
    money_text,
)
from desktop_app.ui.orders.form_fields import FieldError
from desktop_app.ui.orders.form_lines import LinesModel
from desktop_app.ui.orders.form_view import OrderView, load_order_view
from desktop_app.ui.orders.forms import (
    CancelOrderDialog,
    ConfirmOrderDialog,
    DeliverOrderDialog,
    EditLinesDialog,
    ShipOrderDialog,
)
from desktop_app.ui.orders.shipping import (
    AddNoteDialog,
    ChangeAddressDialog,
    DuplicateOrderDialog,
    address_lines,
    note_text,
)
from desktop_app.ui.tasks import TaskRunner

READ_ONLY_REASON = "The database is open read-only; nothing can be changed."

# action key -> (button text, shortcut, the domain actions it needs (any of; none: always
# allowed on a shown order), dialog class)
OrderDialogFactory = Callable[
    [CommandSender, QuerySender, TaskRunner, OrderView, QWidget | None], CommandDialog
]
"""A form for one action on an order (the dialog classes below)."""

_ACTIONS: tuple[tuple[str, str, str, tuple[str, ...], OrderDialogFactory], ...] = (
    (
        "edit",
        "&Edit lines…",
        "Ctrl+E",
        ("add_line", "remove_line", "change_quantity"),
        EditLinesDialog,
    ),
    ("confirm", "&Confirm…", "Ctrl+Shift+C", ("confirm",), ConfirmOrderDialog),
    ("ship", "&Ship…", "Ctrl+Shift+S", ("ship",), ShipOrderDialog),
    ("deliver", "&Deliver…", "Ctrl+Shift+D", ("deliver",), DeliverOrderDialog),
    ("cancel", "Cance&l order…", "Ctrl+Shift+X", ("cancel",), CancelOrderDialog),
    ("address", "Ship-to &address…", "Ctrl+Shift+A", ("change_address",), ChangeAddressDialog),
    ("note", "Add &note…", "Ctrl+Shift+N", ("add_note",), AddNoteDialog),
    ("duplicate", "Order a&gain…", "Ctrl+Shift+G", (), DuplicateOrderDialog),
)


_ANY_STEP = frozenset({"address", "note", "duplicate"})


def action_refusal(name: str, actions: OrderActions) -> str | None:
    """Why the domain refuses the panel's action ``name`` for an order with ``actions``
    (None: allowed — also for actions open at any step — or not an action this table knows)."""
    for key, _text, _shortcut, needs, _dialog in _ACTIONS:
        if key == name:
            refusals = [actions.why_not(need) for need in needs]
            return None if not needs or any(r is None for r in refusals) else refusals[0]
    return None


class OrderDetailPanel(QWidget):
    """Shows one order and runs its actions. ``order_changed(order_id)`` follows every
    successful command on it. The actions (``self.actions_by_name``) are window-wide shortcuts,
    so the main window can also put them in its menus."""

    order_changed = Signal(str)
    loaded = Signal(str)  # order id, after a (re)load has been shown
    order_created = Signal(str)  # a new order's id ("order again"), to select it in the list

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.commands = commands
        self.queries = queries
        self.tasks = tasks
        self.order_id: str | None = None
        self.view: OrderView | None = None
        self.active_dialog: QDialog | None = None
        self._read_only = False
        self._generation = 0

        # header
        self.number_label = QLabel(self)
        self.number_label.setObjectName("orderNumber")
        font = self.number_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.number_label.setFont(font)
        self.number_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_badge = StatusBadge(self)
        self.version_label = QLabel(self)
        self.version_label.setObjectName("orderVersion")
        self.version_label.setStyleSheet("color: palette(mid);")
        title = QHBoxLayout()
        title.addWidget(self.number_label)
        title.addWidget(self.status_badge)
        title.addStretch(1)
        title.addWidget(self.version_label)

        self.customer_label = QLabel(self)
        self.placed_label = QLabel(self)
        self.updated_label = QLabel(self)
        self.tracking_label = QLabel(self)
        self.carrier_label = QLabel(self)
        self.cancel_reason_label = QLabel(self)
        self.cancel_reason_label.setWordWrap(True)
        self.address_label = QLabel(self)
        self.address_label.setObjectName("shipToAddress")
        self.address_label.setWordWrap(True)
        self.address_remark = QLabel(self)
        self.address_remark.setObjectName("shipToRemark")
        self.address_remark.setStyleSheet("color: palette(mid); font-style: italic;")
        self.address_remark.setWordWrap(True)
        ship_to = QVBoxLayout()
        ship_to.setSpacing(0)
        ship_to.addWidget(self.address_label)
        ship_to.addWidget(self.address_remark)
        for label in (
            self.customer_label,
            self.tracking_label,
            self.carrier_label,
            self.cancel_reason_label,
            self.address_label,
        ):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = QFormLayout()
        self.facts.addRow("Customer:", self.customer_label)
        self.facts.addRow("Placed:", self.placed_label)
        self.facts.addRow("Last change:", self.updated_label)
        self.facts.addRow("Ship to:", ship_to)
        self.facts.addRow("Tracking number:", self.tracking_label)
        self.facts.addRow("Carrier:", self.carrier_label)
        self.facts.addRow("Cancelled because:", self.cancel_reason_label)

        self.lines_model = LinesModel(self, short=True)
        self.lines_table = QTableView(self)
        self.lines_table.setObjectName("detailLines")
        self.lines_table.setModel(self.lines_model)
        self.lines_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lines_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.lines_table.verticalHeader().hide()
        # A narrow panel wraps long product names rather than cutting them.
        self.lines_table.setWordWrap(True)
        self.lines_table.setAlternatingRowColors(True)
        header = self.lines_table.horizontalHeader()
        header.setSectionResizeMode(LinesModel.PRODUCT, QHeaderView.ResizeMode.Stretch)
        for column in (LinesModel.SKU, LinesModel.QUANTITY, LinesModel.PRICE, LinesModel.TOTAL):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.sectionResized.connect(lambda *_a: self.lines_table.resizeRowsToContents())
        self.total_label = QLabel(self)
        self.total_label.setObjectName("orderTotal")
        self.total_label.setStyleSheet("font-weight: bold;")
        self.total_label.setAlignment(Qt.AlignmentFlag.AlignRight)

        self.notes_list = QListWidget(self)
        self.notes_list.setObjectName("orderNotes")
        self.notes_list.setWordWrap(True)
        self.notes_list.setAlternatingRowColors(True)
        self.notes_list.setMaximumHeight(self.fontMetrics().lineSpacing() * 7)
        self.notes_title = QLabel("Notes", self)
        self.notes_title.setStyleSheet("font-weight: bold;")

        # actions
        self.actions_by_name: dict[str, QAction] = {}
        self.buttons: dict[str, QToolButton] = {}
        # Two rows: the order's steps, then what can be done at any step (address, notes,
        # order again); each wraps in a narrow panel instead of clipping buttons.
        button_row = FlowLayout()
        extra_row = FlowLayout()
        for name, text, shortcut, _needs, _dialog in _ACTIONS:
            action = QAction(text, self)
            action.setObjectName(f"{name}Action")
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setEnabled(False)
            action.triggered.connect(guarded(self, lambda _checked=False, n=name: self.run(n)))
            self.addAction(action)
            self.actions_by_name[name] = action
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setObjectName(f"{name}Button")
            self.buttons[name] = button
            (extra_row if name in _ANY_STEP else button_row).addWidget(button)

        self.message = FieldError(self)
        self.message.setObjectName("panelMessage")

        content = QWidget(self)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(title)
        layout.addLayout(self.facts)
        layout.addWidget(self.lines_table, 1)
        layout.addWidget(self.total_label)
        layout.addWidget(self.notes_title)
        layout.addWidget(self.notes_list)
        layout.addLayout(button_row)
        layout.addLayout(extra_row)
        self.placeholder = QLabel("Select an order to see its details.", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(mid);")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.addWidget(self.stack, 1)
        outer.addWidget(self.message)
        self._show_view(None)

    # --- interface for the main window ----------------------------------------------------

    def show_order(self, order_id: str | None) -> None:
        """Show ``order_id`` (None: nothing selected)."""
        if order_id != self.order_id:
            self.view = None
            self._show_view(None)
        self.order_id = order_id
        self.refresh()

    def refresh(self) -> None:
        """Reload the shown order in the background."""
        self._generation += 1
        if self.order_id is None:
            self._show_view(None)
            return
        generation = self._generation
        order_id = self.order_id
        queries = self.queries
        self.tasks.submit(
            lambda: load_order_view(queries, order_id),
            guarded(self, lambda view: self._loaded(generation, view)),
            guarded(self, lambda exc: self._load_failed(generation, exc)),
        )

    def set_read_only(self, read_only: bool) -> None:
        """Disable every action that would change the order."""
        self._read_only = read_only
        self._update_actions()

    def is_read_only(self) -> bool:
        """Whether the panel is read-only."""
        return self._read_only

    # --- actions --------------------------------------------------------------------------

    def run(self, name: str) -> CommandDialog | None:
        """Open the form for action ``name`` (window-modal, non-blocking); returns it."""
        action = self.actions_by_name[name]
        if self.view is None or not action.isEnabled():
            return None
        dialog_class = next(entry[4] for entry in _ACTIONS if entry[0] == name)
        if self.active_dialog is not None:
            self.active_dialog.close()
        dialog = dialog_class(self.commands, self.queries, self.tasks, self.view, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(guarded(self, lambda: self._command_done(dialog)))
        dialog.finished.connect(guarded(self, lambda _code: self._dialog_closed(dialog)))
        self.active_dialog = dialog
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.active_dialog is dialog:
            self.active_dialog = None

    def _command_done(self, dialog: QDialog | None = None) -> None:
        if isinstance(dialog, DuplicateOrderDialog):
            # The source order did not change: the new one is shown (and listed) instead.
            if dialog.new_order_id is not None:
                self.order_created.emit(dialog.new_order_id)
                self.show_order(dialog.new_order_id)
            return
        if self.order_id is not None:
            self.order_changed.emit(self.order_id)
        self.refresh()

    # --- loading --------------------------------------------------------------------------

    def _loaded(self, generation: int, view: OrderView) -> None:
        if generation != self._generation:
            return  # a newer refresh is on its way
        self.message.set_message(None)
        self.view = view
        self._show_view(view)
        self.loaded.emit(view.order_id)

    def _load_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.view = None
        self._show_view(None)
        text = getattr(exc, "message", None) or str(exc)
        self.message.set_message(f"This order could not be loaded: {text}")

    def _show_view(self, view: OrderView | None) -> None:
        self.stack.setCurrentIndex(0 if view is None else 1)
        if view is None:
            self.lines_model.set_rows(())
            self._update_actions()
            return
        self.number_label.setText(view.order_number)
        self.status_badge.set_status(view.status)
        self.version_label.setText(f"version {view.version}")
        self.customer_label.setText(view.customer_name)
        self.placed_label.setText(datetime_text(view.placed_at))
        self.updated_label.setText(datetime_text(view.updated_at))
        self._set_fact(self.tracking_label, view.tracking_number)
        self._set_fact(self.carrier_label, view.carrier)
        self._set_fact(self.cancel_reason_label, view.cancel_reason)
        address, remark = address_lines(view)
        self.address_label.setText(address)
        self.address_label.setVisible(bool(address))
        self.address_remark.setText(remark)
        self.address_remark.setVisible(bool(remark))
        self.notes_list.clear()
        for note in reversed(view.notes):  # newest first
            item = QListWidgetItem(note_text(note))
            item.setToolTip(note.text)
            self.notes_list.addItem(item)
        self.notes_title.setText(f"Notes ({len(view.notes)})")
        self.notes_title.setVisible(bool(view.notes))
        self.notes_list.setVisible(bool(view.notes))
        self.lines_model.set_rows(view.lines)
        self.lines_table.resizeRowsToContents()
        count = len(view.lines)
        total = money_text(view.total, view.currency)
        self.total_label.setText(f"{count} line{'s' if count != 1 else ''} · Total {total}")
        self._update_actions()

    def _set_fact(self, label: QLabel, value: str | None) -> None:
        label.setText(value or "")
        self.facts.setRowVisible(label, bool(value))

    def _update_actions(self) -> None:
        view = self.view
        for name, text, shortcut, _needs, _dialog in _ACTIONS:
            action = self.actions_by_name[name]
            plain = text.replace("&", "").rstrip("…")
            keys = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
            if view is None:
                reason: str | None = "No order is selected."
            elif self._read_only:
                reason = READ_ONLY_REASON
            else:
                reason = action_refusal(name, view.actions)
            action.setEnabled(reason is None)
            tip = f"{plain} ({keys})" if reason is None else f"{plain}: {reason}"
            action.setToolTip(tip)
            action.setStatusTip(tip)
