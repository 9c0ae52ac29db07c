"""The Order menu: every order action, with its shortcut, whatever side tab is shown.

The entries are the order detail panel's own ``QAction`` objects (everything the panel added
with ``addAction``), so an action added to the panel later appears here by itself, with the
panel's enabled state and its "why not" tooltip. Being in the menu bar is also what keeps their
window shortcuts alive while the panel is hidden behind the History or Snapshots tab (Qt only
fires a window shortcut for an action that sits on a visible widget or menu).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget


def panel_actions(panel: QWidget | None) -> list[QAction]:
    """The order actions a panel offers, in the panel's order (none for a placeholder)."""
    if panel is None:
        return []
    return [action for action in panel.actions() if not action.isSeparator() and action.text()]


class OrderMenu(QMenu):
    """``&Order``: ``leading`` window actions (New order), then the panel's order actions,
    then ``trailing`` window actions (Export audit bundle)."""

    def __init__(
        self,
        parent: QWidget,
        leading: Sequence[QAction] = (),
        trailing: Sequence[QAction] = (),
    ) -> None:
        super().__init__("&Order", parent)
        self.setObjectName("menuOrder")
        self.setToolTipsVisible(True)  # a disabled action's tooltip says why
        self._leading = list(leading)
        self._trailing = list(trailing)
        self._panel: QWidget | None = None
        self.aboutToShow.connect(self.sync)
        self.sync()

    def set_panel(self, panel: QWidget | None) -> None:
        """Offer ``panel``'s actions (the detail panel; again after it was rebuilt)."""
        self._panel = panel
        self.sync()

    def order_actions(self) -> list[QAction]:
        """The panel's actions as the menu holds them."""
        return panel_actions(self._panel)

    def sync(self) -> None:
        """Rebuild the entries from the panel's current actions."""
        self.clear()
        for action in self._leading:
            self.addAction(action)
        actions = self.order_actions()
        if actions and self._leading:
            self.addSeparator()
        for action in actions:
            self.addAction(action)
        if self._trailing:
            self.addSeparator()
        for action in self._trailing:
            self.addAction(action)
