"""The side tabs: Detail, History and Snapshots of the selected order.

Each panel is built the first time it is needed (its tab is shown, or it is asked for):
importing and building History and Snapshots is a good part of the start-up time (P5 first
paint), and no panel can be built before the database is open. A built panel subscribes to
the :class:`CurrentOrder`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QTabWidget, QWidget

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.ui.current_order import CurrentOrder
from desktop_app.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from desktop_app.ui.history import HistoryView
    from desktop_app.ui.orders.detail import OrderDetailPanel
    from desktop_app.ui.snapshots import SnapshotInspector

DETAIL, HISTORY, SNAPSHOTS = 0, 1, 2
TITLES = {DETAIL: "&Detail", HISTORY: "&History", SNAPSHOTS: "Sna&pshots"}


def _lazy_stub(name: str) -> QWidget:
    """What a tab holds until its panel is built."""
    widget = QWidget()
    widget.setObjectName("lazyPanel:" + name)
    return widget


class SideTabs(QTabWidget):
    """Detail / History / Snapshots, each built on first use and following ``current``."""

    def __init__(self, current: CurrentOrder, tasks: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("sideTabs")
        self.setDocumentMode(True)
        self._current = current
        self._tasks = tasks
        self._buses: tuple[CommandSender, QuerySender] | None = None
        self.detail_panel: OrderDetailPanel | None = None
        self._history: HistoryView | None = None
        self._snapshots: SnapshotInspector | None = None
        self._swapping = False
        self._read_only = False
        for index, name in ((DETAIL, "detail"), (HISTORY, "history"), (SNAPSHOTS, "snapshots")):
            self.addTab(_lazy_stub(name), TITLES[index])

    def set_buses(self, commands: CommandSender, queries: QuerySender) -> OrderDetailPanel:
        """The database is open: build the Detail panel (returned) and the current tab's."""
        from desktop_app.ui.orders.detail import OrderDetailPanel

        self._buses = (commands, queries)
        panel = OrderDetailPanel(commands, queries, self._tasks, self)
        self._install(DETAIL, panel)
        self.detail_panel = panel
        panel.set_read_only(self._read_only)
        return panel

    def set_read_only(self, read_only: bool) -> None:
        """Switch off every panel action that writes (Detail's order actions, Snapshots'
        "Take snapshot now"), in the panels built so far and those built later."""
        self._read_only = read_only
        if self.detail_panel is not None:
            self.detail_panel.set_read_only(read_only)
        if self._snapshots is not None:
            self._snapshots.set_read_only(read_only)

    @property
    def detail(self) -> QWidget:
        """The Detail tab's widget (a placeholder until the database is open)."""
        return self.detail_panel if self.detail_panel is not None else self._widget(DETAIL)

    @property
    def history(self) -> HistoryView:
        """The History panel (built on first use)."""
        if self._history is None:
            from desktop_app.ui.history import HistoryView

            _, queries = self._open_buses()
            self._history = HistoryView(queries, self._tasks, self)
            self._install(HISTORY, self._history)
        return self._history

    @property
    def snapshots(self) -> SnapshotInspector:
        """The Snapshots panel (built on first use)."""
        if self._snapshots is None:
            from desktop_app.ui.snapshots import SnapshotInspector

            commands, queries = self._open_buses()
            self._snapshots = SnapshotInspector(commands, queries, self._tasks, self)
            self._snapshots.set_read_only(self._read_only)
            self._install(SNAPSHOTS, self._snapshots)
        return self._snapshots

    def build_current(self) -> None:
        """Build the shown tab's panel (once the database is open)."""
        self.build_tab(self.currentIndex())

    def _open_buses(self) -> tuple[CommandSender, QuerySender]:
        if self._buses is None:
            raise RuntimeError("the side panels are built once the database is open")
        return self._buses

    def _widget(self, index: int) -> QWidget:
        widget = self.widget(index)
        if widget is None:
            raise IndexError(f"no side tab {index}")
        return widget

    def _install(
        self, index: int, panel: OrderDetailPanel | HistoryView | SnapshotInspector
    ) -> None:
        """Put ``panel`` in tab ``index`` instead of its placeholder (keeping the current tab),
        then let it follow the current order."""
        stub = self.widget(index)
        current = self.currentIndex()
        self._swapping = True
        try:
            self.removeTab(index)
            self.insertTab(index, panel, TITLES[index])
            self.setCurrentIndex(current)
        finally:
            self._swapping = False
        if stub is not None:
            stub.deleteLater()
        self._current.attach(panel)

    @Slot(int)
    def build_tab(self, index: int) -> None:
        """Build tab ``index``'s panel if it is not built yet (connect to ``currentChanged``
        once the saved tab was restored: restoring it must not build it before the first
        paint)."""
        if self._swapping or self._buses is None:
            return  # (set_buses builds the current panel)
        if index == HISTORY:
            _ = self.history
        elif index == SNAPSHOTS:
            _ = self.snapshots
