"""The order the clerk has selected, as one object the side panels subscribe to.

The list view decides which order is current (``select``); the live refresh reports the
version the list now shows (``seen``); a panel that changed the order itself says so
(``changed_by``). Each attached panel is told to show a newly current order and to re-read
the current one when it has a new version — except the panel that made the change, which is
already up to date. Anything else (print actions, the window title) listens to ``changed``.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, Signal


class OrderPanel(Protocol):
    """A side panel that shows one order (Detail, History, Snapshots)."""

    def show_order(self, order_id: str | None) -> None:
        """Show ``order_id`` (None: no order selected)."""
        ...

    def refresh(self) -> None:
        """Re-read the shown order (it has a new version)."""
        ...


class CurrentOrder(QObject):
    """The selected order's id and the version last seen of it."""

    changed = Signal(object)
    """Another order is current: its id, or None (emitted after the panels were told)."""
    updated = Signal(str)
    """The current order has a new version (emitted after the panels re-read it)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._order_id: str | None = None
        self._version: int | None = None
        self._panels: list[OrderPanel] = []

    @property
    def order_id(self) -> str | None:
        """The selected order (None: nothing selected)."""
        return self._order_id

    @property
    def version(self) -> int | None:
        """The version of the selected order last seen in the list (None: not known)."""
        return self._version

    def attach(self, panel: OrderPanel) -> None:
        """Subscribe ``panel`` (built late, e.g. a tab shown for the first time): it shows
        the current order now and follows every change from here on."""
        self._panels.append(panel)
        if self._order_id is not None:
            panel.show_order(self._order_id)

    def detach(self, panel: OrderPanel) -> None:
        """Stop telling ``panel`` (it was replaced)."""
        if panel in self._panels:
            self._panels.remove(panel)

    def select(self, order_id: str | None, version: int | None = None) -> None:
        """The clerk selected ``order_id`` (shown at ``version`` in the list)."""
        self._order_id = order_id
        self._version = version if order_id is not None else None
        for panel in list(self._panels):
            panel.show_order(order_id)
        self.changed.emit(order_id)

    def seen(self, order_id: str, version: int) -> None:
        """The list now shows ``order_id`` at ``version``. A newer version of the current
        order (changed here or in another program) makes the panels re-read it; the first
        version seen after a change made here only records where the order is now."""
        if order_id != self._order_id or version == self._version:
            return
        known = self._version is not None
        self._version = version
        if known:
            self._updated(origin=None)

    def changed_by(self, origin: OrderPanel, order_id: str) -> None:
        """``origin`` changed ``order_id`` itself (and shows the result already): when it is
        the current order, the other panels re-read it."""
        if order_id != self._order_id:
            return
        self._version = None  # the list's next version is this change: no second re-read
        self._updated(origin=origin)

    def reload(self) -> None:
        """Every panel re-reads the current order (Refresh, a rebuild, a catalog change)."""
        self._updated(origin=None)

    def _updated(self, origin: OrderPanel | None) -> None:
        for panel in list(self._panels):
            if panel is not origin:
                panel.refresh()
        if self._order_id is not None:
            self.updated.emit(self._order_id)
