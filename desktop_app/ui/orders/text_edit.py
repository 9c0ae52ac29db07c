"""A plain multi-line text field for addresses and notes."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit, QWidget


class MultiLineEdit(QPlainTextEdit):
    """A few lines of plain text (an address, a note); Tab moves on instead of typing a tab."""

    def __init__(self, parent: QWidget | None = None, *, lines: int = 4) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        # Exactly ``lines`` lines tall (it scrolls beyond): a form's other rows keep their room.
        margins = self.contentsMargins()
        height = self.fontMetrics().lineSpacing() * lines
        height += int(2 * self.document().documentMargin()) + margins.top() + margins.bottom() + 2
        self.setFixedHeight(height)

    def text(self) -> str:
        """The typed text."""
        return self.toPlainText()
