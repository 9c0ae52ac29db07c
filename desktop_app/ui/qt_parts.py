"""Parts of Qt widgets that exist by construction but that Qt's signatures (and so the stubs)
declare optional: an editable combo box's line edit and completer, a widget's layout.

Each accessor raises when the part is missing instead of letting ``None`` travel on: that
would be a programming error (a combo box made non-editable, a layout never set)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QComboBox, QCompleter, QLayout, QLineEdit, QWidget


def line_edit_of(combo: QComboBox) -> QLineEdit:
    """The line edit of an editable combo box."""
    line = combo.lineEdit()
    if line is None:
        raise RuntimeError(f"{type(combo).__name__} is not editable: it has no line edit")
    return line


def completer_of(widget: QComboBox | QLineEdit) -> QCompleter:
    """The completer of an editable combo box (Qt gives one) or of a line edit given one."""
    completer = widget.completer()
    if completer is None:
        raise RuntimeError(f"{type(widget).__name__} has no completer")
    return completer


def layout_of(widget: QWidget) -> QLayout:
    """The layout set on ``widget``."""
    layout = widget.layout()
    if layout is None:
        raise RuntimeError(f"{type(widget).__name__} has no layout")
    return layout


def popup_of(completer: QCompleter) -> QAbstractItemView:
    """The completer's popup list (Qt makes one on first use)."""
    popup = completer.popup()
    if popup is None:
        raise RuntimeError("the completer has no popup")
    return popup
