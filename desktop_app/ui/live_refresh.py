"""Live refresh: the order list follows the projector, and the side panels follow the
selected order when the list shows a new version of it (changed here or in another program).
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Slot

from desktop_app.application.queries import ProjectorStatus
from desktop_app.ui.current_order import CurrentOrder
from desktop_app.ui.orders.list_view import OrdersListView

LIVE_REFRESH_INTERVAL_MS = 250
"""Live refreshes of the order list on projector progress: at most one per this interval."""


class LiveRefresh(QObject):
    """Re-queries ``orders`` when the projector's checkpoint moves, and reports the current
    order's listed version to ``current`` after every refresh."""

    def __init__(self, orders: OrdersListView, current: CurrentOrder, parent: QObject) -> None:
        super().__init__(parent)
        self._orders = orders
        self._current = current
        self.last_checkpoint: int | None = None
        """The projector's checkpoint in the last status (None: no status yet)."""
        self.refreshed = QElapsedTimer()
        """Started at each live refresh (invalid before the first)."""
        self.timer = QTimer(self)
        """Due for the refresh folded into the end of the interval."""
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._refresh_now)
        orders.model.refreshed.connect(self._follow_current_order)
        self.paused = False
        """True while the window shows something else than the live list (the desk as of a
        date): progress is noted, the list is re-queried once on :meth:`resume`."""
        self._missed = False

    def projector_status(self, status: ProjectorStatus) -> None:
        """A projector status arrived (GUI thread): progress re-queries the list. The first
        status only records where the projector is."""
        checkpoint = status.checkpoint
        if checkpoint != self.last_checkpoint:
            first = self.last_checkpoint is None
            self.last_checkpoint = checkpoint
            if not first:
                if self.paused:
                    self._missed = True
                    return
                self._refresh()

    def resume(self) -> None:
        """Follow the projector again; re-query at once if it moved meanwhile."""
        self.paused = False
        if self._missed:
            self._missed = False
            self._refresh()

    def _refresh(self) -> None:
        """Re-query the order list, at most once per ``LIVE_REFRESH_INTERVAL_MS``: the first
        change at once, later ones folded into one refresh at the end of the interval (so
        the last state is always shown).

        While the projector catches up a status arrives after every batch (10-15 a second);
        each refresh means a query and a repaint of the table on the GUI thread while the
        projector competes for the GIL and the CPU (P5: no GUI-thread stall > 50 ms)."""
        if self.timer.isActive():
            return  # already due
        if self.refreshed.isValid():
            wait = LIVE_REFRESH_INTERVAL_MS - self.refreshed.elapsed()
            if wait > 0:
                self.timer.start(int(wait))
                return
        self._refresh_now()

    @Slot()
    def _refresh_now(self) -> None:
        self.refreshed.start()
        self._orders.refresh()

    @Slot()
    def _follow_current_order(self) -> None:
        """After a refresh: the version the list shows of the selected order."""
        order_id = self._orders.current_order_id()
        if order_id is None:
            return
        row = self._orders.model.find_row(order_id)
        item = self._orders.model.row_at(row) if row is not None else None
        if item is not None:
            self._current.seen(order_id, item.version)
