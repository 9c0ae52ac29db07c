"""The side panel beside the order list: the list comes first, and the panel (Detail /
History / Snapshots) folds away with one key and comes back where it was.

Each side tab has its own width: Detail takes about 30 % (the list keeps about 70 %), History and
Snapshots — audit views with a timeline beside the details — take about 60 %. A width the clerk
drags is remembered for that tab (and saved with the window's settings).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QSplitter, QTabWidget, QWidget

SHARES = {0: 0.30, 1: 0.60, 2: 0.55}
"""The panel's share of the width per side tab when the clerk has not chosen one."""
COMFORTABLE = {0: 360, 1: 600, 2: 560}
"""Below these widths (px) a tab's content gets cramped: take them when the window allows."""
LIST_MINIMUM = 560
"""The list keeps at least this much when a tab wants its comfortable width."""


class SidePanel(QObject):
    """Owns the split between the list (index 0) and the side tabs (index 1) and the
    checkable ``action`` that shows or folds the panel."""

    def __init__(self, splitter: QSplitter, tabs: QTabWidget, parent: QWidget) -> None:
        super().__init__(parent)
        self.splitter = splitter
        self.tabs = tabs
        self._widths: dict[int, int] = {}
        self._folded_width = 0
        splitter.setChildrenCollapsible(False)
        splitter.setCollapsible(1, True)  # the panel folds; the list never does
        splitter.setStretchFactor(0, 7)
        splitter.setStretchFactor(1, 3)
        self.action = QAction("Side &panel", parent)
        self.action.setObjectName("actionSidePanel")
        self.action.setCheckable(True)
        self.action.setChecked(True)
        self.action.setShortcut(QKeySequence("F9"))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setStatusTip("Show or fold away the Detail / History / Snapshots panel")
        self.action.toggled.connect(self.set_visible)
        parent.addAction(self.action)
        splitter.splitterMoved.connect(self._moved)
        tabs.currentChanged.connect(self._tab_changed)

    # --- public ----------------------------------------------------------------------------

    def is_visible(self) -> bool:
        """True unless the panel is folded away."""
        sizes = self.splitter.sizes()
        return len(sizes) > 1 and sizes[1] > 0

    def panel_width(self) -> int:
        """The panel's current width (0 when folded)."""
        sizes = self.splitter.sizes()
        return sizes[1] if len(sizes) > 1 else 0

    def _pane(self, index: int) -> QWidget:
        """The splitter's list (0) or side panel (1); both are added at construction."""
        pane = self.splitter.widget(index)
        if pane is None:
            raise IndexError(f"the splitter has no pane {index}")
        return pane

    def width_for(self, tab: int) -> int:
        """The width tab ``tab`` gets: the clerk's, else its share (at least its comfortable
        width while the list keeps ``LIST_MINIMUM``)."""
        total = self._total()
        if tab in self._widths:
            return min(self._widths[tab], total - self._pane(0).minimumWidth())
        share = int(total * SHARES.get(tab, 0.3))
        comfortable = min(COMFORTABLE.get(tab, 400), total - LIST_MINIMUM)
        minimum = self._pane(1).minimumWidth()
        return max(share, comfortable, minimum)

    def set_visible(self, visible: bool) -> None:
        """Fold the panel away, or bring it back at the current tab's width."""
        if visible == self.is_visible():
            self._sync_action()
            return
        if visible:
            self._apply(self._folded_width or self.width_for(self.tabs.currentIndex()))
        else:
            self._folded_width = self.panel_width()
            self.splitter.setSizes([self._total(), 0])
        self._sync_action()

    def show_panel(self) -> None:
        """Bring the panel back (a side tab was asked for)."""
        self.set_visible(True)

    def default_split(self) -> None:
        """The current tab's width (about 70/30 for Detail, the list first)."""
        self._apply(self.width_for(self.tabs.currentIndex()))
        self._sync_action()

    def settle(self) -> None:
        """After a restored window is shown: the current tab's width (a folded panel stays
        folded)."""
        if self.is_visible():
            self._apply(self.width_for(self.tabs.currentIndex()))
        self._sync_action()

    def save(self, settings: QSettings, key: str) -> None:
        """Keep the widths the clerk chose per tab."""
        settings.setValue(key, ",".join(f"{tab}:{w}" for tab, w in sorted(self._widths.items())))

    def restore(self, settings: QSettings, key: str) -> None:
        """Take the widths saved by :meth:`save` (the splitter itself is restored already)."""
        text = settings.value(key)
        if isinstance(text, str):
            for part in text.split(","):
                tab, _, width = part.partition(":")
                if tab.strip().isdigit() and width.strip().isdigit():
                    self._widths[int(tab)] = int(width)
        self._sync_action()

    # --- internals -------------------------------------------------------------------------

    def _total(self) -> int:
        return max(sum(self.splitter.sizes()), self.splitter.width(), 1)

    def _apply(self, panel: int) -> None:
        total = self._total()
        panel = max(1, min(panel, total - 1))
        self.splitter.setSizes([total - panel, panel])

    def _tab_changed(self, index: int) -> None:
        if index < 0 or not self.is_visible():
            return
        width = self.width_for(index)
        if width != self.panel_width():
            self._apply(width)

    def _moved(self, _pos: int, _index: int) -> None:
        width = self.panel_width()
        if width > 0:
            self._widths[self.tabs.currentIndex()] = width
        self._sync_action()

    def _sync_action(self) -> None:
        visible = self.is_visible()
        if self.action.isChecked() != visible:
            self.action.blockSignals(True)
            self.action.setChecked(visible)
            self.action.blockSignals(False)
