"""The command palette (Ctrl+K): type what to do, press Enter.

"ship SO-000301" offers Ship for that order (greyed, with the domain's reason, when the order
cannot be shipped now); "new order for Müller" offers New order with that customer chosen;
"Müller" offers that customer's orders and a new order for them; "history" offers the window's
menu actions. Orders and customers are found through the query bus on the TaskRunner (never on
the GUI thread); the actions are the window's own ``QAction`` objects, the order actions the
detail panel's (see ``order_menu``), so the palette runs exactly what the menus run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeyEvent, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.queries import CustomerRow, OrderActions, OrderRow
from desktop_app.ui import formatting as fmt
from desktop_app.ui.order_menu import panel_actions
from desktop_app.ui.palette_search import (
    Found,
    PaletteEntry,
    find,
    menu_actions,
    plain,
    shortcut_text,
    split_action,
)
from desktop_app.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.orders.detail import OrderDetailPanel

log = logging.getLogger(__name__)

TYPING_DEBOUNCE_MS = 150
HINT_ROLE = Qt.ItemDataRole.UserRole + 1


class _HintDelegate(QStyledItemDelegate):
    """The entry's text on the left, its hint (shortcut, status) right-aligned and muted."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        hint = index.data(HINT_ROLE)
        if not hint:
            return
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = (
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText
        )
        painter.setPen(option.palette.color(role))
        rect = option.rect.adjusted(0, 0, -8, 0)
        painter.drawText(
            rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), hint
        )
        painter.restore()


class CommandPalette(QDialog):
    """The palette window: a line to type in over the matching entries."""

    def __init__(self, controller: PaletteController, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("commandPalette")
        self.setWindowTitle("Command palette")
        self.controller = controller
        self._entries: list[PaletteEntry] = []
        self._generation = 0
        self._searching = False
        self.input = QLineEdit(self)
        self.input.setObjectName("paletteInput")
        self.input.setPlaceholderText(
            "Type an action, an order number or a customer — e.g. ship SO-000301, "
            "new order for Müller"
        )
        self.input.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setObjectName("paletteResults")
        self.list.setUniformItemSizes(True)
        self.list.setItemDelegate(_HintDelegate(self.list))
        self.status = QLabel(self)
        self.status.setObjectName("paletteStatus")
        self.status.setWordWrap(True)
        # Room for one line of status at all times: the list does not jump when it appears.
        self.status.setMinimumHeight(self.status.fontMetrics().height() + 4)
        layout = QVBoxLayout(self)
        layout.addWidget(self.input)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        self.setMinimumWidth(560)
        self.resize(640, 420)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TYPING_DEBOUNCE_MS)
        self._timer.timeout.connect(self._search)
        self.input.textChanged.connect(self._typed)
        self.input.returnPressed.connect(self.run_current)
        self.list.itemActivated.connect(lambda _item: self.run_current())
        self.list.currentRowChanged.connect(self._row_changed)
        self.input.installEventFilter(self)
        self._show([])
        self._typed("")

    # --- for the controller and tests ------------------------------------------------------

    def entries(self) -> list[PaletteEntry]:
        """The entries shown, top first."""
        return list(self._entries)

    def searching(self) -> bool:
        """True while typed text waits for its search (debounce or background query)."""
        return self._timer.isActive() or self._searching

    def status_text(self) -> str:
        """The status line (why an entry cannot run, how many were found)."""
        return self.status.text()

    def run(self, entry: PaletteEntry) -> None:
        """Run ``entry`` (close the palette first) or say why it cannot run."""
        if not entry.enabled:
            self.status.setText(f"{entry.text}: {entry.reason or 'not possible now.'}")
            return
        self.accept()
        entry.run()

    def run_current(self) -> None:
        """Enter: run the highlighted entry (the first when none is)."""
        if self.searching():
            # Enter typed faster than the search: finish it first, then run the top entry.
            self._timer.stop()
            self._search(then_run=True)
            return
        row = max(self.list.currentRow(), 0)
        if row < len(self._entries):
            self.run(self._entries[row])

    # --- internals -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.input
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
        ):
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                step = 1 if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) else -1
                count = self.list.count()
                if count:
                    self.list.setCurrentRow((self.list.currentRow() + step) % count)
                return True
        return super().eventFilter(watched, event)

    def _typed(self, _text: str) -> None:
        self._generation += 1
        self._show(self.controller.immediate_entries(self.input.text()))
        self._timer.start()

    def _search(self, then_run: bool = False) -> None:
        text = self.input.text()
        self._generation += 1
        generation = self._generation
        job = self.controller.search_job(text)
        if job is None:
            self._searching = False
            if then_run:
                self.run_current()
            return
        self._searching = True
        self.status.setText("Searching…")

        def done(found: Found) -> None:
            if generation != self._generation:
                return
            self._searching = False
            entries = self.controller.entries_for(text, found)
            self._show(entries)
            if not entries:
                self.status.setText(f"Nothing matches “{text.strip()}”.")
            if then_run:
                self.run_current()

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._searching = False
            log.warning("palette search failed: %r", exc)
            self.status.setText(f"The search failed: {exc}")

        # (A result for a palette closed meanwhile is dropped by the TaskRunner.)
        self.controller.tasks.submit(job, done, failed)

    def _show(self, entries: list[PaletteEntry]) -> None:
        self._entries = entries
        self.list.clear()
        grey = self.palette().color(
            self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text
        )
        for entry in entries:
            item = QListWidgetItem(entry.text)
            item.setData(HINT_ROLE, entry.hint)
            if not entry.enabled:
                item.setForeground(QColor(grey))
                item.setToolTip(entry.reason or "")
            self.list.addItem(item)
        self.status.setText("")
        if entries:
            # The first entry that can run; Up/Down reach the others (their reason shows).
            self.list.setCurrentRow(next((i for i, e in enumerate(entries) if e.enabled), 0))

    def _row_changed(self, row: int) -> None:
        entry = self._entries[row] if 0 <= row < len(self._entries) else None
        if entry is not None and not entry.enabled:
            self.status.setText(f"Not possible now: {entry.reason or 'not allowed.'}")
        elif not self.searching():
            self.status.setText("")


class PaletteController:
    """Builds the palette's entries from the window's actions and runs them."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.dialog: CommandPalette | None = None
        self._pending: tuple[str, QAction | None] | None = None
        self._pending_number = ""
        self.action = QAction("Command &palette…", window)
        self.action.setObjectName("actionCommandPalette")
        self.action.setShortcut(QKeySequence("Ctrl+K"))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setStatusTip("Type an action, an order number or a customer")
        self.action.triggered.connect(self.open)
        window.addAction(self.action)
        window.orders.model.loaded.connect(self._revealed)
        window.orders.model.refreshed.connect(self._select_pending)

    def set_panel(self, panel: OrderDetailPanel) -> None:
        """The detail panel whose ``loaded(order_id)`` says an order is shown (again after it
        was rebuilt)."""
        panel.loaded.connect(self._detail_loaded)

    @property
    def tasks(self) -> TaskRunner:
        return self.window.tasks

    # --- what can be run --------------------------------------------------------------------

    def order_actions(self) -> list[QAction]:
        """The detail panel's order actions (those that run on one order)."""
        return panel_actions(self.window.detail)

    def window_actions(self) -> list[QAction]:
        """Every menu action of the window, once each, menu order (the palette's own left out)."""
        seen: set[int] = set()
        result: list[QAction] = []
        for top in self.window.menuBar().actions():
            menu = top.menu()
            if not isinstance(menu, QMenu):
                continue
            for action in menu_actions(menu):
                if id(action) in seen or action is self.action:
                    continue
                seen.add(id(action))
                result.append(action)
        return result

    def _new_order_action(self) -> QAction:
        return self.window.action_new_order

    def immediate_entries(self, text: str) -> list[PaletteEntry]:
        """Entries that need no database: the window's actions whose text matches."""
        words = text.casefold().split()
        entries = []
        for action in self.window_actions():
            label = plain(action.text())
            folded = label.casefold()
            tip = action.toolTip() if not action.isEnabled() else ""
            if all(word in folded for word in words):
                entries.append(
                    PaletteEntry(
                        label,
                        shortcut_text(action),
                        action.trigger,
                        enabled=action.isEnabled(),
                        reason=tip or None,
                    )
                )
        return entries

    def search_job(self, text: str) -> Callable[[], Found] | None:
        """The background search the typed text needs (None: nothing to look up)."""
        queries = self.window.queries
        if queries is None:
            return None
        typed = split_action(text, [*self.order_actions(), self._new_order_action()])
        if typed.action is not None and not typed.rest:
            return None
        if typed.action is self._new_order_action():
            rest = typed.rest
            return lambda: find(queries, rest, orders=False, customers=True, actions=False)
        if typed.action is not None:
            rest = typed.rest
            return lambda: find(queries, rest, orders=True, customers=False, actions=True)
        query = text.strip()
        if len(query) < 2:
            return None
        return lambda: find(queries, query, orders=True, customers=True, actions=False)

    def entries_for(self, text: str, found: Found) -> list[PaletteEntry]:
        """Entries for typed ``text`` once its search came back."""
        new_order = self._new_order_action()
        typed = split_action(text, [*self.order_actions(), new_order])
        if typed.action is new_order:
            return [self._new_order_entry(c) for c in found.customers]
        if typed.action is not None:
            return [self._order_action_entry(typed.action, row, a) for row, a in found.orders]
        entries = self.immediate_entries(text)
        for row, _actions in found.orders:
            entries.append(
                PaletteEntry(
                    f"Open order {row.order_number} · {row.customer_name}",
                    fmt.status_label(row.status),
                    partial(self.go_to_order, row.order_id, row.order_number),
                )
            )
        for customer in found.customers:
            entries.append(
                PaletteEntry(
                    f"Orders of {customer.name}",
                    f"{fmt.format_int(customer.order_count)} orders",
                    partial(
                        self.window.orders.filter_by_customer, customer.customer_id, customer.name
                    ),
                )
            )
            entries.append(self._new_order_entry(customer))
        return entries

    def _new_order_entry(self, customer: CustomerRow) -> PaletteEntry:
        action = self._new_order_action()
        return PaletteEntry(
            f"New order for {customer.name}",
            shortcut_text(action),
            lambda: self.window.new_order_for(customer.customer_id),
            enabled=action.isEnabled(),
            reason=action.statusTip() if not action.isEnabled() else None,
        )

    def _order_action_entry(
        self, action: QAction, row: OrderRow, allowed: OrderActions | None
    ) -> PaletteEntry:
        # Imported here: the detail panel and its forms are not needed for the first paint.
        from desktop_app.ui.orders.detail import action_refusal

        name = action.objectName().removesuffix("Action")
        reason = action_refusal(name, allowed) if allowed is not None else None
        if self.window.read_only:
            reason = "The database is open read-only; nothing can be changed."
        return PaletteEntry(
            f"{plain(action.text())} {row.order_number} · {row.customer_name}",
            fmt.status_label(row.status),
            lambda: self.go_to_order(row.order_id, row.order_number, action),
            enabled=reason is None,
            reason=reason,
        )

    # --- running ----------------------------------------------------------------------------

    def open(self) -> CommandPalette:
        """Show the palette (a fresh one each time)."""
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = CommandPalette(self, self.window)
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.open()
        self.dialog.input.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return self.dialog

    def go_to_order(self, order_id: str, order_number: str, action: QAction | None = None) -> None:
        """Select the order in the list (revealing it when a filter hides it), then run
        ``action`` on it once the detail panel shows it."""
        orders = self.window.orders
        self._pending = (order_id, action)
        self._pending_number = order_number
        detail = self.window.detail_panel
        if orders.select_order(order_id):
            view = detail.view if detail is not None else None
            if view is not None and view.order_id == order_id:
                self._detail_loaded(order_id)  # already shown: no reload will come
            if action is None:
                self._pending = None
            return
        orders.reveal(order_number)

    def _select_pending(self) -> bool:
        """Select the order waited for; True when it is in the list."""
        if self._pending is None:
            return False
        order_id, action = self._pending
        found = bool(self.window.orders.select_order(order_id))
        if found and action is None:
            self._pending = None
        return found

    def _revealed(self) -> None:
        """A new list arrived: the order waited for is in it, or (once the list shows the
        search for its number) it is not to be found — say so rather than wait on."""
        if self._pending is None or self._select_pending():
            return
        number = self._pending_number
        if number and self.window.orders.model.current_filter.search == number:
            self._pending = None
            self.window.statusBar().showMessage(
                f"Order {number} is not in the order list (yet).", 8000
            )

    def _detail_loaded(self, order_id: str) -> None:
        if self._pending is None or self._pending[0] != order_id:
            return
        _, action = self._pending
        self._pending = None
        if action is None:
            return
        if action.isEnabled():
            action.trigger()
        else:
            self.window.statusBar().showMessage(action.toolTip(), 8000)
