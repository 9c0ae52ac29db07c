"""One way to make a window's menu actions: a window-wide shortcut and the same status tip and
tooltip."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def window_action(
    window: QWidget,
    name: str,
    text: str,
    shortcut: QKeySequence | str,
    slot: Callable[[], object],
    tip: str = "",
) -> QAction:
    """An action owned by and added to ``window`` (its shortcut works whether or not a menu
    is open), named ``name`` for tests and the command palette."""
    action = QAction(text, window)
    action.setObjectName(name)
    action.setShortcut(QKeySequence(shortcut))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(slot)
    window.addAction(action)
    return action
