"""Shared pieces of the order and catalog forms.

``CommandDialog`` is the one place that knows how a form sends a command: the command id is made
once when the form opens, the bus call runs on the ``TaskRunner`` (never on the GUI thread),
errors land beside the field they concern, and nothing typed is lost on a domain error, a version
conflict, a busy or a read-only database.

Over 500 lines on purpose: the one send path (check, preview, send, conflict, reload) of every
form, kept in one class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import Command, OrderCommand, new_id
from desktop_app.application.ports import (
    ConcurrencyError,
    StoreBusyError,
    StoreError,
    StoreReadOnlyError,
)
from desktop_app.domain.errors import DomainError
from desktop_app.ui import formatting
from desktop_app.ui.orders.form_fields import FieldError, tab_order_by_position
from desktop_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

BUSY_MESSAGE = "The database is busy — try again."
READ_ONLY_MESSAGE = "The database is open read-only, so nothing can be saved. Your input is kept."

# --- value <-> text: thin names over ui/formatting.py (the only place that converts) --------


def places(currency: str) -> int:
    """Decimal places of a currency."""
    return formatting.currency_exponent(currency)


def minor_to_amount(minor: int, currency: str) -> Decimal:
    """Integer minor units (read-model form) as an exact Decimal."""
    return formatting.minor_to_decimal(minor, currency)


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount for an editable field: locale grouping and decimal point, no currency."""
    return formatting.format_decimal(amount, places(currency))


def money_text(amount: Decimal, currency: str) -> str:
    """An amount with its currency, as the clerk reads it."""
    return formatting.format_money(amount, currency)


def minor_text(minor: int, currency: str) -> str:
    """Read-model minor units as money text."""
    return formatting.format_minor(minor, currency)


def parse_amount(text: str, currency: str | None = None) -> Decimal:
    """Typed text as a Decimal; ``ValueError`` (``formatting.ParseError``) with a message the
    clerk can act on when it is not an amount."""
    return formatting.parse_amount(text, currency)


def datetime_text(value: datetime | None) -> str:
    """A point in time in the clerk's locale and time zone ("—" when unknown)."""
    return formatting.format_datetime(value) if value is not None else "—"


# --- small widgets -------------------------------------------------------------------------


def guarded(owner: QWidget, fn: Callable[..., object]) -> Callable[..., None]:
    """Wrap a task callback so it does nothing once ``owner``'s C++ object is gone (its
    result, if any, is dropped)."""

    def call(*args: Any) -> None:
        if shiboken6.isValid(owner):
            fn(*args)

    return call


def wrapped_label(text: str, parent: QWidget | None = None) -> QLabel:
    """A plain-text paragraph that wraps. Top-aligned with a little room below: font metrics
    can under-report the wrapped height by a pixel or two, which would clip the first line."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setContentsMargins(0, 0, 0, 4)
    return label


def with_error(field: QWidget, error: FieldError) -> QVBoxLayout:
    """A field with its error message right under it, for one form row."""
    column = QVBoxLayout()
    column.setSpacing(2)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(field)
    column.addWidget(error)
    return column


STATUS_COLOURS = {
    "pending": ("#7a4f01", "#ffe8b0"),
    "confirmed": ("#0b4a8b", "#d6e8ff"),
    "shipped": ("#5b2a86", "#eadcf8"),
    "delivered": ("#1e6b2e", "#d5f2dc"),
    "cancelled": ("#6b6b6b", "#e6e6e6"),
}


class StatusBadge(QLabel):
    """The order status as a coloured pill."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBadge")
        self.set_status(None)

    def set_status(self, status: str | None) -> None:
        """Show ``status`` (hidden when None)."""
        self.setVisible(status is not None)
        if status is None:
            return
        fg, bg = STATUS_COLOURS.get(status, ("#333333", "#eeeeee"))
        self.setText(formatting.status_label(status))
        self.setStyleSheet(
            f"QLabel {{ color: {fg}; background: {bg}; border-radius: 9px;"
            " padding: 2px 10px; font-weight: bold; }"
        )


def field_key(name: str | None) -> str | None:
    """``lines[0].quantity`` -> ``quantity``: the part a form shows an error beside."""
    if not name:
        return None
    return name.rsplit(".", 1)[-1].split("[", 1)[0]


# --- the command dialog --------------------------------------------------------------------


class CommandDialog(QDialog):
    """A dialog that sends one command (or a short sequence) through the command bus.

    Subclasses build their fields into ``self.body``, register error labels with
    :meth:`add_error_label`, and implement :meth:`build_command` (GUI thread; return None after
    showing a local input error). For a version conflict they implement :meth:`fetch_latest`
    (worker thread, queries only) and :meth:`apply_latest` (GUI thread).

    With ``preview_first`` (the order's status changes and line edits, issue 11) Save first asks
    the domain what the command would write (``PreviewOrderCommand``, nothing written) and shows
    it; the very same command object is sent only when the clerk confirms there.
    """

    subject = "record"
    preview_first = False
    saved = Signal(object)  # CommandResult (or a subclass's result), after success

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        title: str,
        save_text: str,
    ) -> None:
        super().__init__(parent)
        self.commands = commands
        self.queries = queries
        self.tasks = tasks
        self.command_id = new_id()  # made once: a second Save re-sends the same id
        self.expected_version: int | None = None
        self.result_value: Any = None
        self.conflict_prompt: QMessageBox | None = None
        self.preview_dialog: QDialog | None = None
        self._busy = False
        self._shown_once = False
        self._errors: dict[str, FieldError] = {}
        self.setWindowTitle(title)

        self.body = QVBoxLayout()
        self.general_error = FieldError(self, reserve=True)
        self.general_error.setObjectName("generalError")
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(120)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.buttons = QDialogButtonBox(self)
        self.save_button: QPushButton = self.buttons.addButton(
            save_text, QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button: QPushButton = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Cancel
        )
        self._save_text = save_text
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        bottom = QHBoxLayout()
        bottom.addWidget(self.progress)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        outer = QVBoxLayout(self)
        self.body.setSpacing(10)
        outer.addLayout(self.body, 1)
        outer.addWidget(self.general_error)
        outer.addSpacing(6)
        outer.addLayout(bottom)

    def showEvent(self, event: Any) -> None:
        self.fit_height()
        if not self._shown_once:
            self._shown_once = True
            chain = self.order_tabs()
            focused = self.focusWidget()
            chosen = focused is not None and any(
                w is focused or w.isAncestorOf(focused) for w in chain[:-2]
            )
            if chain and not chosen:
                chain[0].setFocus(Qt.FocusReason.OtherFocusReason)
        super().showEvent(event)

    def order_tabs(self) -> list[QWidget]:
        """Tab order as the form reads: top to bottom, left to right within a row, then Save
        and Cancel. Returns the chain (first field first)."""
        return tab_order_by_position(self, [self.save_button, self.cancel_button])

    def fit_height(self) -> None:
        """Grow to the height the content needs at the current width (wrapped labels need
        more than the size hint says, and error messages appear after the dialog is shown)."""
        layout = self.layout()
        if layout is None:
            return
        layout.invalidate()
        layout.activate()
        needed = layout.totalMinimumSize().height()
        if layout.hasHeightForWidth():
            needed = max(needed, layout.totalHeightForWidth(self.width()))
        if needed > self.height():
            self.resize(self.width(), needed)

    # --- for subclasses -------------------------------------------------------------------

    def add_error_label(
        self, buddy: QWidget | None, *fields: str, fixed: Callable[[], bool] | None = None
    ) -> FieldError:
        """A red label for ``fields`` (DomainError.field names); place it under the field.
        It clears itself when ``fixed()`` holds after an edit (default: the field changed)."""
        label = FieldError(self, buddy)
        if buddy is not None:
            label.watch(fixed)
        for name in fields:
            self._errors[name] = label
        return label

    def build_command(self) -> Command | None:
        """The command from the typed values, or None after showing a local input error."""
        raise NotImplementedError

    def build_work(self) -> Callable[[], Any] | None:
        """A callable for the worker thread; by default dispatches :meth:`build_command`."""
        command = self.build_command()
        if command is None:
            return None
        dispatch = self.commands.dispatch
        return lambda: dispatch(command)

    def fetch_latest(self) -> Any:
        """Worker thread: the current state after a conflict (queries only)."""
        return None

    def apply_latest(self, latest: Any) -> None:
        """GUI thread: take the new version from ``latest``; keep what the clerk typed."""
        self.expected_version = None

    def on_success(self, result: Any) -> None:
        """GUI thread, after the command ran; closes the dialog by default."""
        self.accept()

    def show_domain_error(self, exc: DomainError) -> None:
        """The message beside its field, or under the form when no field shows it."""
        label = self._errors.get(field_key(exc.field) or "")
        if label is None:
            label = self.general_error
        label.set_message(exc.message)
        if label.field_widget is not None:
            label.field_widget.setFocus()

    def show_error(self, field: str | None, message: str) -> None:
        """A local input error beside ``field``."""
        self.show_domain_error(DomainError(message, field))

    def clear_errors(self) -> None:
        """Hide every error message."""
        self.general_error.set_message(None)
        for label in set(self._errors.values()):
            label.set_message(None)

    def error_text(self, field: str | None = None) -> str:
        """The message shown beside ``field`` (None: the general one) — for tests."""
        label = self._errors.get(field or "", self.general_error)
        return label.message()

    def is_busy(self) -> bool:
        """True while a command is running."""
        return self._busy

    # --- the flow -------------------------------------------------------------------------

    def submit(self) -> None:
        """Save (the button, Enter); subclasses may ask first, then call :meth:`send`."""
        self.send()

    def send(self) -> None:
        """Build the command from the typed values and run it in the background (with
        ``preview_first``: show what it would write first, see :meth:`preview`)."""
        if self._busy:
            return
        self.clear_errors()
        if self.preview_first:
            command = self.build_command()
            if command is not None:
                self.preview(command)
            return
        work = self.build_work()
        if work is None:
            return
        self._run(work, self._done)

    def preview(self, command: Command) -> None:
        """Ask the domain what ``command`` would write (nothing is written), then show it."""
        from desktop_app.application.preview import PreviewOrderCommand

        if not isinstance(command, OrderCommand):
            raise TypeError(f"{type(command).__name__} cannot be previewed")
        queries = self.queries
        query = PreviewOrderCommand(command=command)
        self._run(
            lambda: queries.ask(query),
            lambda preview: self._previewed(command, preview),
            busy_text="Checking…",
        )

    def _previewed(self, command: Command, preview: Any) -> None:
        self._set_busy(False)
        if preview.conflict:
            self.ask_reload()  # the usual reload-and-reapply, which previews again
            return
        if not preview.allowed and self._errors.get(field_key(preview.field) or "") is not None:
            # An input this form shows: the domain's words beside the field to fix.
            self.show_domain_error(DomainError(preview.refusal or "", preview.field))
            return
        from desktop_app.ui.orders.preview import PreviewDialog

        dialog = PreviewDialog(preview, self._save_text, self)
        self.preview_dialog = dialog

        def answered(code: int) -> None:
            self.preview_dialog = None
            if code == QDialog.DialogCode.Accepted:
                self.send_command(command)
            elif not preview.allowed:
                self.general_error.set_message(f"Not saved: {preview.refusal}")
            dialog.deleteLater()

        dialog.finished.connect(guarded(self, answered))
        dialog.open()

    def send_command(self, command: Command) -> None:
        """Send ``command`` as it is (the one the clerk saw previewed)."""
        if self._busy:
            return
        dispatch = self.commands.dispatch
        self._run(lambda: dispatch(command), self._done)

    def _run(
        self, work: Callable[[], Any], on_done: Callable[[Any], None], busy_text: str = "Saving…"
    ) -> None:
        self._set_busy(True, busy_text)
        self.tasks.submit(work, guarded(self, on_done), guarded(self, self._failed))

    def _set_busy(self, busy: bool, busy_text: str = "Saving…") -> None:
        self._busy = busy
        self.save_button.setEnabled(not busy)
        self.save_button.setText(busy_text if busy else self._save_text)
        self.progress.setVisible(busy)

    def _done(self, result: Any) -> None:
        self._set_busy(False)
        self.result_value = result
        self.saved.emit(result)
        self.on_success(result)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.handle_error(exc)

    def handle_error(self, exc: BaseException) -> None:
        """Show ``exc`` in the clerk's words; the form keeps everything typed."""
        if isinstance(exc, DomainError):
            self.show_domain_error(exc)
        elif isinstance(exc, ConcurrencyError):
            self.ask_reload()
        elif isinstance(exc, StoreBusyError):
            self.general_error.set_message(BUSY_MESSAGE)
        elif isinstance(exc, StoreReadOnlyError):
            self.general_error.set_message(READ_ONLY_MESSAGE)
        elif isinstance(exc, StoreError):
            self.general_error.set_message(f"{exc} Your input is kept.")
        else:
            log.exception("command failed", exc_info=exc)
            self.general_error.set_message(f"Could not save: {exc}. Your input is kept.")

    def ask_reload(self) -> None:
        """Offer to reload the record and send the typed values again."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Changed by someone else")
        box.setText(f"This {self.subject} was changed by someone else — reload and reapply?")
        box.setInformativeText(
            "Reload fetches the latest version and saves your input again. "
            "Cancel keeps your input here without saving."
        )
        reload_button = box.addButton("&Reload", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(reload_button)
        self.conflict_prompt = box

        def answered(_code: int) -> None:
            self.conflict_prompt = None
            if box.clickedButton() is reload_button:
                self.reload_and_reapply()
            else:
                self.general_error.set_message(
                    f"Not saved: the {self.subject} was changed by someone else. "
                    "Your input is kept."
                )
            box.deleteLater()

        box.finished.connect(guarded(self, answered))
        box.open()

    def reload_and_reapply(self) -> None:
        """Fetch the latest version, keep the typed values, send them again."""
        if self._busy:
            return
        self.clear_errors()
        self._run(self.fetch_latest, self._reloaded)

    def _reloaded(self, latest: Any) -> None:
        self._set_busy(False)
        self.apply_latest(latest)
        self.send()

    def reject(self) -> None:
        """Escape/Cancel; ignored while a command is running so its outcome is not lost."""
        if self._busy:
            self.general_error.set_message("Still saving — please wait a moment.")
            return
        super().reject()


class ConsequenceDialog(CommandDialog):
    """Says what an irreversible action will do, then does it on the clerk's word."""

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        title: str,
        save_text: str,
        paragraphs: Iterable[str],
        make_command: Callable[[str, int | None], Command],
        subject: str = "record",
    ) -> None:
        super().__init__(commands, queries, tasks, parent, title=title, save_text=save_text)
        self.subject = subject
        self._make_command = make_command
        self.message_labels = []
        for text in paragraphs:
            label = wrapped_label(text, self)
            self.body.addWidget(label)
            self.message_labels.append(label)
        self.body.addStretch(1)
        self.setMinimumWidth(460)

    def message(self) -> str:
        """Everything the dialog says, for tests and screen readers."""
        return "\n".join(label.text() for label in self.message_labels)

    def build_command(self) -> Command:
        return self._make_command(self.command_id, self.expected_version)
