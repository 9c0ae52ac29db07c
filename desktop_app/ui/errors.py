"""Errors the clerk sees, and the log the support desk reads.

``setup_logging`` writes a rotating log file in the user's log folder; ``install_excepthook``
turns any unexpected exception on the GUI thread into a logged traceback and a dialog that says
what happened and what to do, instead of a silently closed window. ``explain`` turns the known
exception families (DomainError, StoreError, ...) into clerk words.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
import sys
import threading
import traceback
from collections.abc import Callable
from io import TextIOWrapper
from pathlib import Path
from types import TracebackType
from typing import cast

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop_app.application.ports import (
    ConcurrencyError,
    StoreBusyError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from desktop_app.domain.errors import DomainError

log = logging.getLogger("desktop_app.ui")

LOG_FILE_NAME = "order-desk.log"

_log_path: Path | None = None
_open_boxes: list[QMessageBox] = []


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600 (the log names orders, customers and
    paths: as private as the database, R35), also the fresh file after each rollover."""

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_uid == os.geteuid():
                os.fchmod(fd, 0o600)  # an older file made 0644, or the umask's filtering
            # Text mode (the handler's mode has no "b"): open() makes a TextIOWrapper.
            return cast(
                TextIOWrapper, open(fd, self.mode, encoding=self.encoding, errors=self.errors)
            )
        except BaseException:
            os.close(fd)
            raise


def _private_folder(folder: Path) -> None:
    """Create ``folder`` 0700 (parents as the umask says) or tighten ours to 0700."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def setup_logging(log_dir: Path, *, level: int = logging.INFO) -> Path:
    """Log to ``log_dir/order-desk.log`` (rotating, 5 × 2 MB; files 0600 in a 0700 folder)
    and return the file's path."""
    global _log_path
    _private_folder(log_dir)
    path = log_dir / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, PrivateRotatingFileHandler):  # ours, from an earlier call
            root.removeHandler(handler)
            handler.close()
    handler = PrivateRotatingFileHandler(
        path, maxBytes=2 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    _log_path = path
    return path


def log_path() -> Path | None:
    """The log file set up by ``setup_logging`` (None when logging to a file is not set up)."""
    return _log_path


def explain(exc: BaseException) -> tuple[str, str]:
    """(title, clerk-readable message with what to do) for an exception."""
    if isinstance(exc, DomainError):
        return "Not possible", str(exc)
    if isinstance(exc, ConcurrencyError):
        return (
            "Changed by someone else",
            "This order was changed by someone else while you were working on it. "
            "Reload it and apply your change again; what you typed has been kept.",
        )
    if isinstance(exc, StoreBusyError):
        return (
            "Database busy",
            "The database is busy with another program or user. Wait a moment and try again; "
            "nothing was saved and what you typed has been kept.",
        )
    if isinstance(exc, StoreReadOnlyError):
        return "Read-only", str(exc)
    if isinstance(exc, StoreUnavailableError):
        return "Database problem", str(exc)
    if isinstance(exc, StoreError):
        return "Not saved", str(exc)
    where = f"\n\nDetails were written to the log file:\n{_log_path}" if _log_path else ""
    return (
        "Unexpected error",
        "Order Desk ran into an unexpected problem "
        f"({type(exc).__name__}: {exc}).\n\n"
        "Your saved data is safe: every change is stored as soon as it is made. "
        "If the problem comes back, restart Order Desk and tell your support contact." + where,
    )


def show_error(parent: QWidget | None, exc: BaseException, *, context: str = "") -> None:
    """A modal message box explaining ``exc`` (non-blocking for tests: uses ``open()``)."""
    title, message = explain(exc)
    if context:
        message = f"{context}\n\n{message}"
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok)
    if parent is not None:
        box.setParent(parent, box.windowFlags())
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("errorDialog")
    if parent is None:  # keep a parentless box alive until it is closed
        _open_boxes.append(box)
        box.finished.connect(lambda _r: _open_boxes.remove(box) if box in _open_boxes else None)
    box.open()


class _ExceptionRelay(QObject):
    """Moves exceptions raised on other threads to the GUI thread for display."""

    raised = Signal(object)


class ExceptionHook:
    """Replaces ``sys.excepthook`` (and ``threading.excepthook``): log, then show a dialog.

    The dialog is shown at most once at a time so an exception inside a paint event does not
    stack hundreds of boxes; later ones are logged only while it is open.
    """

    def __init__(self, parent_getter: Callable[[], QWidget | None] = lambda: None) -> None:
        self._parent_getter = parent_getter
        self._showing = False
        self._previous = sys.excepthook
        self._previous_thread = threading.excepthook
        self._relay = _ExceptionRelay()
        self._relay.raised.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self.count = 0
        self._box: QMessageBox | None = None

    def install(self) -> None:
        sys.excepthook = self._hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        sys.excepthook = self._previous
        threading.excepthook = self._previous_thread

    def _hook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        self.count += 1
        log.error(
            "unhandled exception:\n%s", "".join(traceback.format_exception(exc_type, exc, tb))
        )
        self._relay.raised.emit(exc)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self._hook(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(object)
    def _show(self, exc: BaseException) -> None:
        if self._showing:
            return
        self._showing = True
        try:
            title, message = explain(exc)
            box = QMessageBox(
                QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok
            )
            box.setObjectName("unexpectedErrorDialog")
            parent = self._parent_getter()
            if parent is not None:
                box.setParent(parent, box.windowFlags())
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.finished.connect(self._closed)
            self._box = box  # a parentless box lives only as long as a Python reference
            box.open()
        except Exception:  # never let the hook itself take the program down
            log.exception("could not show the error dialog")
            self._showing = False

    @Slot()
    def _closed(self) -> None:
        self._showing = False
        self._box = None
