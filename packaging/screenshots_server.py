"""Render the server screens (issue 10) to PNG: ``python packaging/screenshots_server.py [OUT]``.

At 1024, 1280 and 1920 px (``WIDTHS``): File ▸ Connect to server… over the main window (a demo
desk), the same dialog with a refused address (a password in it), and the box shown when the
server cannot be reached at start. Each dialog is drawn centred over the window as it appears
on screen. Look at every one: a clipped label is a bug. No app logic lives here.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots import WIDTHS, _pump, build_database


def _over(window: Any, dialog: Any, out: Path, name: str, saved: list[Path]) -> None:
    """The window with ``dialog`` painted centred on it, as the clerk sees them."""
    from PySide6.QtGui import QPainter

    picture = window.grab()
    shown = dialog.grab()
    painter = QPainter(picture)
    painter.drawPixmap(
        (picture.width() - shown.width()) // 2, (picture.height() - shown.height()) // 3, shown
    )
    painter.end()
    path = out / f"{name}.png"
    picture.save(str(path))
    saved.append(path)
    print(f"  {path}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import ServerLocation, Settings
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.connect_dialog import ConnectDialog, remember_server, unreachable_box
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setFont(QFont("DejaVu Sans", 9))
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="order-desk-server-shots-") as tmp:
        folder = Path(tmp)
        tasks, bridge = TaskRunner(), Bridge()
        db = build_database(folder, orders=60)
        app = bootstrap(Settings.default(db), source="screenshots")
        try:
            for width, height in WIDTHS:
                settings = QSettings(str(folder / f"ui-{width}.ini"), QSettings.Format.IniFormat)
                remember_server(settings, ServerLocation("postgresql://maria@db.office.lan/orders"))
                window = MainWindow(
                    app.commands, app.queries, bridge, tasks, app.info, settings=settings
                )
                window.resize(width, height)
                window.show()
                window.start()
                _pump(qapp, tasks, until=lambda w=window: w.orders.model.has_loaded)

                dialog = ConnectDialog(window, settings)
                dialog.show()
                _pump(qapp, tasks)
                _over(window, dialog, out, f"{width}px-server-connect", saved)
                line = dialog.address.lineEdit()
                assert line is not None
                line.setText("postgresql://maria:secret@db.office.lan/orders")
                dialog.accept()  # refused: the message appears beside the field
                _pump(qapp, tasks)
                _over(window, dialog, out, f"{width}px-server-connect-refused", saved)
                dialog.reject()

                box = unreachable_box(
                    "The database server (orders on db.office.lan:5432) cannot be reached: "
                    "connection refused. Check the address and that the server is running, "
                    "or choose another database.",
                    ServerLocation("postgresql://maria@db.office.lan:5432/orders"),
                )
                box.show()
                _pump(qapp, tasks)
                _over(window, box, out, f"{width}px-server-unreachable", saved)
                box.close()
                box.deleteLater()
                dialog.deleteLater()
                window.close()
                window.deleteLater()
                _pump(qapp, tasks)
        finally:
            app.close()
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
