"""The check before a change (issue 11): the events a command would write and the order
document before and after, as the domain computed them without writing (``PreviewOrderCommand``).

The clerk confirms here (Enter) or goes back to the form (Esc) with everything typed kept. When
the domain would refuse the command, the dialog says why and its confirm button is disabled.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.business_summaries import money
from desktop_app.application.preview import ChangePreview
from desktop_app.ui.document_html import document_html
from desktop_app.ui.history.event_style import style_for


def preview_html(preview: ChangePreview) -> str:
    """The events to be written, then the order document before and after."""
    if not preview.allowed:
        return (
            "<p style='color:#b91c1c'><b>This change would be refused:</b> "
            f"{html.escape(preview.refusal or '')}</p><p>Nothing will be written.</p>"
        )
    count = len(preview.events)
    parts = [
        f"<h4>{count} event{'s' if count != 1 else ''} will be recorded in the order's "
        "history</h4><ol>"
    ]
    for event in preview.events:
        label = style_for(event.type_name).label
        parts.append(f"<li><b>{html.escape(label)}</b> · {html.escape(event.text)}</li>")
    parts.append("</ol>")
    diff = preview.diff
    if diff is not None:
        new = preview.version + count
        parts.append(
            document_html(
                diff,
                preview.version + 1,
                new,
                before_label=f"now (v{preview.version:,})",
                after_label=f"after (v{new:,})",
                title="The order document before and after",
            )
        )
        if not diff.delta.is_zero():
            change = money(diff.delta, preview.currency, signed=True)
            parts.append(f"<p>Order total changes by <b>{html.escape(change)}</b>.</p>")
    return "".join(parts)


class PreviewDialog(QDialog):
    """Shows a :class:`ChangePreview`; Accepted means "write it" (only when allowed)."""

    def __init__(
        self, preview: ChangePreview, confirm_text: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("changePreview")
        self.setWindowTitle("Check before saving")
        self.preview = preview
        self.heading = QLabel(self)
        self.heading.setObjectName("previewHeading")
        self.heading.setWordWrap(True)
        if preview.allowed:
            self.heading.setText(
                "Please check what will be written. Enter records it; Esc goes back to the "
                "form, nothing is written."
            )
        else:
            self.heading.setText("This cannot be saved as it stands. Esc goes back to the form.")
        self.body = QTextBrowser(self)
        self.body.setObjectName("previewBody")
        self.body.setOpenLinks(False)
        self.body.setHtml(preview_html(preview))
        self.body.setMinimumHeight(220)
        self.buttons = QDialogButtonBox(self)
        self.confirm_button: QPushButton = self.buttons.addButton(
            confirm_text, QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.back_button: QPushButton = self.buttons.addButton(
            "&Back to the form", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.confirm_button.setEnabled(preview.allowed)
        if preview.allowed:
            self.confirm_button.setDefault(True)
            self.confirm_button.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.confirm_button.setToolTip(preview.refusal or "")
            self.back_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.resize(640, 460)

    def accept(self) -> None:
        """Enter or the confirm button; never while the preview is a refusal."""
        if self.preview.allowed:
            super().accept()

    def text(self) -> str:
        """Everything the dialog says (tests, screen readers)."""
        return f"{self.heading.text()}\n{self.body.toPlainText()}"


__all__ = ["PreviewDialog", "preview_html"]
