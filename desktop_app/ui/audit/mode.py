"""Switching the main window into the audit view and back (Ctrl+Shift+A, View ▸ Audit view).

In audit mode the order list shrinks to a narrow strip (it still selects the order), the side
tabs give way to the audit view, and Esc or the same action restores the layout as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QLayout, QWidget

from desktop_app.ui.window_action import window_action

if TYPE_CHECKING:
    from desktop_app.ui.audit.view import AuditView
    from desktop_app.ui.main_window import MainWindow

STRIP_WIDTH = 200
"""The order list's width in audit mode: the number column and a little more."""


class AuditMode(QObject):
    """Owns the action and the (lazily built) audit view of one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.view: AuditView | None = None
        self._sizes: list[int] = []
        self._list_minimum = 0
        self._hidden: list[QWidget] = []
        self._jump_to: int | None = None
        self.action = window_action(
            window,
            "actionAuditView",
            "&Audit view",
            "Ctrl+Shift+A",
            self.toggle,
            "The selected order's whole history, full width (Esc returns)",
        )
        self.action.setCheckable(True)
        window.installEventFilter(self)

    @property
    def active(self) -> bool:
        """True while the audit view is shown."""
        return self.view is not None and self.view.isVisible()

    @Slot()
    def toggle(self) -> None:
        """Enter audit mode, or leave it."""
        if self.active:
            self.leave()
        else:
            self.enter()

    def open_at(self, order_id: str, version: int | None = None) -> bool:
        """Open the audit view of ``order_id`` (selected in the list when the list has it) at
        ``version``: what a verify finding's "open" does."""
        window = self.window
        if window.current.order_id != order_id:
            window.orders.select_order(order_id)
        if version is not None:
            self._jump_to = version
        if self.active and self.view is not None:
            if self.view.order_id != order_id:
                self.view.show_order(order_id)
            elif version is not None and self.view.audit is not None:
                self._jump_to = None
                self.view.jump_to_version(version)
            return True
        return self.enter(order_id)

    def enter(self, order_id: str | None = None) -> bool:
        """Show the audit view of ``order_id`` (default: the selected order); False (and a
        status message) without one."""
        window = self.window
        order_id = order_id or window.current.order_id
        if window.queries is None or order_id is None:
            self.action.setChecked(False)
            window.statusBar().showMessage("Select an order first, then open its audit view.", 5000)
            return False
        self._sizes = [size for size, widget in self._panes() if widget is not self.view]
        view = self._view()
        view.set_queries(window.queries)
        view.set_commands(window.commands, read_only=window.read_only)
        self._list_minimum = window.orders.minimumWidth()
        window.tabs.hide()
        # A strip holds the table only: the search and filters would be cut off at its width
        # (they keep their contents and come back as they were).
        self._hidden = [w for w in _widgets(window.orders.filter_bar) if w.isVisible()]
        for widget in self._hidden:
            widget.hide()
        window.orders.setMinimumWidth(STRIP_WIDTH)
        view.show()
        total = sum(self._sizes) or window.splitter.width()
        window.splitter.setSizes([STRIP_WIDTH, max(total - STRIP_WIDTH, 0), 0])
        window.current.attach(view)  # shows the current order now, follows the selection
        if view.order_id != order_id:
            view.show_order(order_id)  # an order the list does not show (a finding's)
        self.action.setChecked(True)
        view.canvas.setFocus()
        return True

    def leave(self) -> None:
        """Back to the list and the side tabs, sized as before."""
        view = self.view
        if view is None or not view.isVisible():
            self.action.setChecked(False)
            return
        window = self.window
        window.current.detach(view)
        view.hide()
        for widget in self._hidden:
            widget.show()
        self._hidden = []
        window.orders.setMinimumWidth(self._list_minimum)
        window.tabs.show()
        if self._sizes:
            saved = iter(self._sizes)
            window.splitter.setSizes(
                [0 if widget is view else next(saved, 0) for _size, widget in self._panes()]
            )
        self.action.setChecked(False)
        window.orders.table.setFocus()

    def _panes(self) -> list[tuple[int, QWidget | None]]:
        splitter = self.window.splitter
        return [(size, splitter.widget(i)) for i, size in enumerate(splitter.sizes())]

    def _view(self) -> AuditView:
        if self.view is None:
            # Imported when first opened: the audit view (and the history parts it draws with)
            # stays off the start-up path (P7).
            from desktop_app.ui.audit.view import AuditView

            view = AuditView(self.window.tasks, self.window.splitter)
            # Between the list and the side tabs, so the splitter's saved two-pane state
            # (list | tabs) is the same whether or not the audit view was ever opened.
            self.window.splitter.insertWidget(1, view)
            view.close_requested.connect(self.leave)
            view.loaded.connect(self._loaded)
            self.view = view
        return self.view

    @Slot()
    def _loaded(self) -> None:
        version, self._jump_to = self._jump_to, None
        if version is not None and self.view is not None:
            self.view.jump_to_version(version)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            # The window saves its layout on close: save the normal one, not audit mode's.
            self.leave()
        return False


def _widgets(layout: QLayout) -> list[QWidget]:
    """Every widget in ``layout`` and its nested layouts."""
    found: list[QWidget] = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item is None:
            continue
        widget, inner = item.widget(), item.layout()
        if widget is not None:
            found.append(widget)
        elif inner is not None:
            found += _widgets(inner)
    return found
