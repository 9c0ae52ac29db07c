"""Render Order Desk's screens to PNG files: ``python packaging/screenshots.py [OUT_DIR]``.

Builds a demo database in a temporary folder (``load_demo`` + projector catch-up), opens the
main window on it offscreen and saves the main window (an order selected, each side tab), the
History tab with a diff open, the Snapshot inspector and each dialog that exists (New order,
Customers, Products, About) under ``screenshots/`` (git-ignored). A screen whose module is not
there yet is skipped with a note. No app logic lives here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WINDOW_SIZE = (1440, 880)


def _pump(
    app: Any,
    tasks: Any,
    *,
    at_least_ms: int = 150,
    until: Callable[[], bool] | None = None,
    timeout_ms: int = 10000,
) -> None:
    """Process events until the task pool is idle (and ``until()`` holds), at least a while."""
    start = time.monotonic()
    while True:
        app.processEvents()
        elapsed = (time.monotonic() - start) * 1000
        idle = tasks.pending() == 0 and (until is None or until())
        if (idle and elapsed >= at_least_ms) or elapsed >= timeout_ms:
            break
        time.sleep(0.01)
    app.processEvents()


def _save(widget: Any, out: Path, name: str, saved: list[Path]) -> None:
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    saved.append(path)
    print(f"  {path}")


def build_database(folder: Path, orders: int) -> Path:
    """A demo database with ``orders`` orders, read model caught up."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.demo_data import load_demo

    path = folder / "orders.sqlite3"
    app = bootstrap(Settings.default(path), source="screenshots")
    try:
        load_demo(app.commands, orders=orders, seed=7, queries=app.queries)
        projector = app.projector
        if projector is not None:
            while projector.run_once():
                pass
    finally:
        app.close()
    return path


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.orders.table_model import COLUMNS
    from desktop_app.ui.tasks import TaskRunner

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setFont(QFont("DejaVu Sans", 9))
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="order-desk-shots-") as tmp:
        folder = Path(tmp)
        print(f"building a demo database in {folder} …")
        db = build_database(folder, orders=300)
        app = bootstrap(Settings.default(db), source="screenshots")
        bridge = Bridge()
        tasks = TaskRunner()
        if app.projector is not None:
            app.projector.add_listener(bridge.publish_projector_status)
        settings = QSettings(str(folder / "ui.ini"), QSettings.Format.IniFormat)
        window = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
        try:
            window.resize(*WINDOW_SIZE)
            window.show()
            window.start()
            model = window.orders.model
            _pump(qapp, tasks, until=lambda: model.has_loaded)
            if app.projector is not None:
                app.projector.run_once()
                bridge.publish_projector_status(app.projector.status())
            _pump(qapp, tasks)
            _save(window, out, "01-main-window", saved)

            # An order with a long history (so History and Snapshots have something to show):
            # sort by version, longest first, and take the top row.
            with_version = [c.sort_key for c in COLUMNS].index("version")
            model.sort(with_version, Qt.SortOrder.DescendingOrder)
            _pump(qapp, tasks, at_least_ms=300)
            longest = model.row_at(0)
            best = longest.version if longest is not None else 0
            model.sort(0, Qt.SortOrder.DescendingOrder)
            _pump(qapp, tasks, at_least_ms=300)
            window.orders.table.selectRow(5)
            window.tabs.setCurrentIndex(0)
            _pump(qapp, tasks, at_least_ms=600)
            _save(window, out, "02-order-detail", saved)

            # A short, everyday order for the detail panel too.
            for row in range(model.rowCount()):
                item = model.row_at(row)
                if item is not None and item.status == "pending" and item.line_count >= 2:
                    window.orders.table.selectRow(row)
                    break
            _pump(qapp, tasks, at_least_ms=600)
            _save(window, out, "03-order-detail-pending", saved)

            if longest is not None:
                window.orders.search.setText(longest.order_number)
                window.orders._apply_search_now()
                _pump(qapp, tasks, at_least_ms=300)
                window.orders.table.selectRow(0)
            _pump(qapp, tasks, at_least_ms=300)
            window.tabs.setCurrentIndex(1)
            _pump(qapp, tasks, at_least_ms=600)
            history = window.history
            if hasattr(history, "select_version"):
                history.select_version(min(best, 4))
                _pump(qapp, tasks, at_least_ms=400)
            _save(window, out, "04-history", saved)
            if hasattr(history, "compare") and best > 3:
                history.compare(2, min(best, 6))
                _pump(qapp, tasks, at_least_ms=600)
                _save(window, out, "05-history-diff", saved)

            window.tabs.setCurrentIndex(2)
            _pump(qapp, tasks, at_least_ms=600)
            snapshots = window.snapshots
            if hasattr(snapshots, "select_version") and best >= 50:
                snapshots.select_version(50 * (best // 50))
                _pump(qapp, tasks, at_least_ms=400)
                if hasattr(snapshots, "verify_selected"):
                    snapshots.verify_selected()
                    _pump(qapp, tasks, at_least_ms=600)
            _save(window, out, "06-snapshot-inspector", saved)
            window.tabs.setCurrentIndex(0)

            # Filters in use.
            window.orders.status_filter.actions_by_status["shipped"].setChecked(True)
            window.orders.search.setText("Café")
            window.orders._apply_search_now()
            _pump(qapp, tasks, at_least_ms=400)
            _save(window, out, "07-main-window-search", saved)
            window.orders.search.clear()
            window.orders.status_filter.clear()
            window.orders._apply_search_now()
            _pump(qapp, tasks, at_least_ms=300)

            for name, action in (
                ("08-new-order", window.new_order),
                ("09-customers", window.open_customers),
                ("10-products", window.open_products),
            ):
                action()
                _pump(qapp, tasks, at_least_ms=600)
                dialog = next(
                    (w for w in qapp.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()),
                    None,
                )
                if dialog is None:
                    print(f"  (skipped {name}: the dialog is not available)")
                    continue
                _save(dialog, out, name, saved)
                dialog.reject()
                _pump(qapp, tasks)

            window.show_about()
            _pump(qapp, tasks, at_least_ms=200)
            about = next(
                (w for w in qapp.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()),
                None,
            )
            if about is not None:
                _save(about, out, "11-about", saved)
                about.close()

            # The read-only banner (the same file, opened read-only).
            window.close()
            _pump(qapp, tasks)
            app.close()
            from dataclasses import replace

            app = bootstrap(replace(Settings.default(db), read_only=True), source="screenshots")
            window = MainWindow(
                app.commands, app.queries, bridge, tasks, app.info, settings=settings
            )
            window.resize(*WINDOW_SIZE)
            window.show()
            window.start()
            _pump(qapp, tasks, at_least_ms=400, until=lambda: window.orders.model.has_loaded)
            _save(window, out, "12-read-only", saved)
        finally:
            window.close()
            tasks.wait_idle(30000)
            qapp.processEvents()
            app.close()
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
