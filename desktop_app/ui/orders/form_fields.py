"""Field-level pieces of the forms: the red error under a field (room kept, gone once fixed)
and a Tab order that follows the form as it reads."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)


def _value_of(widget: QWidget | None) -> object:
    """What a field holds, to tell whether the clerk changed it since an error was shown."""
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QAbstractSpinBox):
        return widget.text()
    return None


@runtime_checkable
class FitsHeight(Protocol):
    """A dialog that grows to fit a message shown in it (``form_base.FormDialog``)."""

    def fit_height(self) -> None:
        """Grow to the height the contents need."""


class FieldError(QLabel):
    """A red message under a field.

    A field's error (``buddy`` given, or ``reserve=True``) keeps one line of room while empty,
    so the form does not jump when a message appears. With :meth:`watch` it goes away by itself
    once its cause is fixed (the ``fixed`` check passes, or else the clerk changed the field)."""

    def __init__(
        self,
        parent: QWidget | None = None,
        buddy: QWidget | None = None,
        *,
        reserve: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("fieldError")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setContentsMargins(0, 0, 0, 4)
        self.setStyleSheet("color: #b3261e;")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.field_widget = buddy
        self._reserve = buddy is not None if reserve is None else reserve
        self._cause: object = None
        self._fixed: Callable[[], bool] | None = None
        if self._reserve:
            self.setMinimumHeight(self.fontMetrics().height() + 4)
        else:
            self.hide()

    def set_message(self, message: str | None) -> None:
        """Show ``message`` (or clear it when None/empty)."""
        self.setText(message or "")
        self._cause = _value_of(self.field_widget)
        if not self._reserve:
            self.setVisible(bool(message))
        window = self.window()
        if message and isinstance(window, FitsHeight):
            window.fit_height()  # grow the dialog rather than squeeze the other labels

    def message(self) -> str:
        """The message shown ('' when none)."""
        return self.text() if not self.isHidden() else ""

    def watch(self, fixed: Callable[[], bool] | None = None) -> None:
        """Clear the message when the field changes and ``fixed()`` says the cause is gone
        (without ``fixed``: as soon as the clerk changes what the field held)."""
        self._fixed = fixed
        widget = self.field_widget
        if isinstance(widget, QLineEdit):
            widget.textChanged.connect(self._field_changed)
        elif isinstance(widget, QComboBox):
            widget.editTextChanged.connect(self._field_changed)
            widget.currentIndexChanged.connect(self._field_changed)
        elif isinstance(widget, QAbstractSpinBox):
            widget.editingFinished.connect(self._field_changed)
            if isinstance(widget, QSpinBox):
                widget.valueChanged.connect(self._field_changed)
        elif isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for signal in (model.dataChanged, model.rowsInserted, model.rowsRemoved):
                signal.connect(self._lines_changed)

    def _field_changed(self, *_args: Any) -> None:
        if not self.text():
            return
        if self._fixed is not None:
            if self._fixed():
                self.set_message(None)
        elif _value_of(self.field_widget) != self._cause:
            self.set_message(None)

    def _lines_changed(self, *_args: Any) -> None:
        if self.text() and (self._fixed is None or self._fixed()):
            self.set_message(None)


def _focusable(root: QWidget) -> list[QWidget]:
    """The widgets Tab stops at under ``root`` (a compound widget counts once: a combo box,
    not its line edit; a table, not its viewport)."""
    found: list[QWidget] = []
    for widget in root.findChildren(QWidget):
        if not widget.focusPolicy() & Qt.FocusPolicy.TabFocus or widget.isHidden():
            continue
        if widget.focusProxy() is not None or widget.isWindow():
            continue
        if any(other.isAncestorOf(widget) for other in found):
            continue
        found = [other for other in found if not widget.isAncestorOf(other)]
        found.append(widget)
    return found


def tab_order_by_position(dialog: QWidget, last: list[QWidget]) -> list[QWidget]:
    """Set the Tab order of ``dialog``'s fields top to bottom (left to right within a row),
    then ``last`` (Save, Cancel); returns the chain."""
    layout = dialog.layout()
    if layout is not None:
        layout.activate()
    fields = [w for w in _focusable(dialog) if w not in last and w.window() is dialog]
    origin = dialog.mapToGlobal(dialog.rect().topLeft())

    def top_left(widget: QWidget) -> tuple[int, int, int]:
        point = widget.mapToGlobal(widget.rect().topLeft()) - origin
        return point.y(), point.x(), widget.height()

    placed = sorted(fields, key=lambda w: top_left(w)[:2])
    # Rows: widgets whose vertical extents overlap read left to right.
    rows: list[list[QWidget]] = []
    row_bottom = -1
    for widget in placed:
        y, _x, height = top_left(widget)
        if rows and y < row_bottom - 2:
            rows[-1].append(widget)
            row_bottom = max(row_bottom, y + height)
        else:
            rows.append([widget])
            row_bottom = y + height
    chain = [w for row in rows for w in sorted(row, key=lambda w: top_left(w)[1])] + last
    for before, after in itertools.pairwise(chain):
        QWidget.setTabOrder(before, after)
    return chain
