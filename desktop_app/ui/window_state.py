"""The main window's layout as the clerk left it: geometry, splitter and panel widths, the
order list's columns and sort, the side tab. Kept in ``QSettings`` under ``mainWindow/``."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, QTimer

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


def _saved(settings: QSettings, key: str) -> QByteArray | None:
    value = settings.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def restore(window: MainWindow, settings: QSettings) -> None:
    """Put ``window`` back as it was saved (the first time: the default split)."""
    geometry = _saved(settings, "mainWindow/geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    state = _saved(settings, "mainWindow/state")
    if state is not None:
        window.restoreState(state)
    splitter = _saved(settings, "mainWindow/splitter")
    if splitter is not None:
        window.splitter.restoreState(splitter)
        window.side_panel.restore(settings, "mainWindow/panelWidths")
        QTimer.singleShot(0, window.side_panel.settle)
    else:
        QTimer.singleShot(0, window.side_panel.default_split)
    header = _saved(settings, "mainWindow/ordersHeader")
    if header is not None:
        h = window.orders.table.horizontalHeader()
        h.restoreState(header)
        # The saved sort indicator is the clerk's last sort: apply it to the query.
        window.orders.model.sort(h.sortIndicatorSection(), h.sortIndicatorOrder())
    tab = settings.value("mainWindow/tab")
    with contextlib.suppress(TypeError, ValueError):
        window.tabs.setCurrentIndex(int(str(tab)) if tab is not None else 0)


def save(window: MainWindow, settings: QSettings) -> None:
    """Remember ``window``'s layout."""
    settings.setValue("mainWindow/geometry", window.saveGeometry())
    settings.setValue("mainWindow/state", window.saveState())
    settings.setValue("mainWindow/splitter", window.splitter.saveState())
    window.side_panel.save(settings, "mainWindow/panelWidths")
    header = window.orders.table.horizontalHeader()
    settings.setValue("mainWindow/ordersHeader", header.saveState())
    settings.setValue("mainWindow/tab", window.tabs.currentIndex())
    settings.sync()
