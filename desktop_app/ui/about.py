"""Help ▸ About: the program's, Qt's and Python's versions, and the facts of the open database
as the store reports them (``GetStoreInfo``: engine version, file format, last anchor)."""

from __future__ import annotations

import dataclasses
import logging
import platform
from collections.abc import Callable

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_app.application.buses import QuerySender
from desktop_app.application.ports import StoreInfo
from desktop_app.application.queries import GetStoreInfo
from desktop_app.identity import app_version
from desktop_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)


def about_text(info: StoreInfo) -> str:
    """The About box's rich text for the database described by ``info``."""
    details = dict(info.details or {})
    mode = "read-only" if info.read_only else "read and write"
    rows = [("Qt", f"{qVersion()} (PySide6 {pyside_version})")]
    # The engine's version is the store's to tell (the UI does not load a database driver).
    if details.get("sqlite_version"):
        rows.append(("SQLite", _escape(details["sqlite_version"])))
    rows += [
        ("Python", platform.python_version()),
        ("Database", _escape(info.location)),
        ("File format", f"{info.schema_version} ({mode})"),
    ]
    anchor = details.get("last_anchor")
    if anchor:
        rows.append(("Last anchor", _escape(str(anchor))))
    if details.get("snapshots"):
        rows.append(("Snapshots", _escape(details["snapshots"])))
    table = "".join(
        f"<tr><td style='padding-right:12px'><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows
    )
    return (
        f"<h3>Order Desk {app_version()}</h3>"
        "<p>Sales orders with a complete, verifiable history.</p>"
        f"<table cellspacing='0' cellpadding='2'>{table}</table>"
    )


def fresh_store_info(
    queries: QuerySender | None,
    tasks: TaskRunner,
    known: StoreInfo,
    then: Callable[[StoreInfo], None],
) -> None:
    """``then(info)``: ``known`` with the store's last anchor (it moves while the program
    runs) read on a worker thread; ``known`` as it is when that cannot be read."""
    if queries is None or not queries.handles(GetStoreInfo):
        then(known)
        return

    def done(info: StoreInfo) -> None:
        anchor = info.details.get("last_anchor")
        if anchor:
            then(dataclasses.replace(known, details={**known.details, "last_anchor": anchor}))
        else:
            then(known)

    def failed(exc: BaseException) -> None:
        log.warning("store info for the About box failed: %s", exc)
        then(known)

    tasks.submit(lambda: queries.ask(GetStoreInfo()), done, failed)


def open_about(parent: QWidget, info: StoreInfo) -> QMessageBox:
    """Show the About box (non-blocking)."""
    box = QMessageBox(parent)
    box.setObjectName("aboutBox")
    box.setWindowTitle("About Order Desk")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text(info))
    box.setIcon(QMessageBox.Icon.Information)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
