"""Render Order Desk's screens to PNG files: ``python packaging/screenshots.py [OUT_DIR]``.

Opens an empty desk (the start-here state), then builds a demo database in a temporary folder
(``load_demo`` + projector catch-up) and saves the main window's screens at 1024, 1280 and
1920 px wide (``WIDTHS``: list, order detail, History with a diff, Snapshot inspector, filters
with a customer that matches nobody, the side panel folded away, the command palette), then
each dialog (New order, Customers, Products, About) and the read-only banner, and the audit
view of a 10,000-event order with an event edited in the file (``audit_screens``), under
``screenshots/`` (git-ignored). Look at every one: a clipped label is a bug. No app logic lives
here.
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
    # processEvents() leaves deleteLater() to the event loop: a closed window must go now,
    # or it keeps answering the shared bridge with queries on a closed database.
    from PySide6.QtCore import QEvent

    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


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


def audit_screens(qapp: Any, bridge: Any, tasks: Any, folder: Path, out: Path) -> list[Path]:
    """The audit view of a 10,000-event order with one event edited in the file: at each of
    ``WIDTHS`` as it opens (verdicts in), then the edited event jumped to (its run opened,
    its details shown) at 1280 and 1920 px."""
    from PySide6.QtCore import QSettings

    # The order is the P5 audit benchmark's (one builder); benchmarks/ is not installed.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.p5_audit import build_audit_order
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.main_window import MainWindow

    saved: list[Path] = []
    path = folder / "audit.sqlite3"
    print("building a 10,000-event order …")
    order_id, forged = build_audit_order(path)
    app = bootstrap(Settings.default(path), source="screenshots")
    try:
        for size in WIDTHS:
            settings = QSettings(
                str(folder / f"ui-audit-{size[0]}.ini"), QSettings.Format.IniFormat
            )
            window = MainWindow(
                app.commands, app.queries, bridge, tasks, app.info, settings=settings
            )
            try:
                window.resize(*size)
                window.show()
                window.start()
                _pump(qapp, tasks, until=lambda w=window: w.orders.model.has_loaded)
                window.orders.select_order(order_id)
                _pump(qapp, tasks, at_least_ms=300)
                window.audit.enter()
                view = window.audit.view
                _pump(
                    qapp,
                    tasks,
                    at_least_ms=400,
                    until=lambda v=view: v is not None and v.audit is not None and v.audit.checked,
                )
                prefix = f"{size[0]}px-"
                _save(window, out, prefix + "15-audit-view", saved)
                if view is not None:
                    view.jump_to_version(forged)
                    _pump(qapp, tasks, at_least_ms=300)
                    _save(window, out, prefix + "16-audit-view-edited-event", saved)
                    view.jump_to_version(forged - 40)  # inside the run before it: opens it
                    _pump(qapp, tasks, at_least_ms=300)
                    _save(window, out, prefix + "17-audit-view-run-opened", saved)
            finally:
                window.close()
                window.deleteLater()
                _pump(qapp, tasks)
    finally:
        tasks.wait_idle(30000)
        app.close()
    return saved


WIDTHS = ((1024, 768), (1280, 800), (1920, 1080))
"""The window sizes every main screen is rendered at (the clerk's small, usual, large screen)."""


def _dialog(qapp: Any, kind: type) -> Any:
    return next(
        (w for w in qapp.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
        None,
    )


def main_screens(
    qapp: Any, app: Any, bridge: Any, tasks: Any, folder: Path, out: Path, size: tuple[int, int]
) -> list[Path]:
    """The main window's screens at one window size, with fresh (default) window settings."""
    from PySide6.QtCore import QSettings, Qt

    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.orders.table_model import COLUMNS

    saved: list[Path] = []
    prefix = f"{size[0]}px-"
    settings = QSettings(str(folder / f"ui-{size[0]}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
    try:
        window.resize(*size)
        window.show()
        window.start()
        model = window.orders.model
        _pump(qapp, tasks, until=lambda: model.has_loaded)
        if app.projector is not None:
            app.projector.run_once()
            bridge.publish_projector_status(app.projector.status())
        _pump(qapp, tasks)
        _save(window, out, prefix + "01-main-window", saved)

        # An order with a long history (so History and Snapshots have something to show):
        # sort by version, longest first, and take the top row.
        with_version = [c.sort_key for c in COLUMNS].index("version")
        model.sort(with_version, Qt.SortOrder.DescendingOrder)
        _pump(qapp, tasks, at_least_ms=300)
        longest = model.row_at(0)
        best = longest.version if longest is not None else 0
        model.sort(0, Qt.SortOrder.DescendingOrder)
        _pump(qapp, tasks, at_least_ms=300)
        for row in range(model.rowCount()):
            item = model.row_at(row)
            if item is not None and item.status == "pending" and item.line_count >= 2:
                window.orders.table.selectRow(row)
                break
        window.tabs.setCurrentIndex(0)
        _pump(qapp, tasks, at_least_ms=600)
        _save(window, out, prefix + "02-order-detail-pending", saved)

        if longest is not None:
            window.orders.search.setText(longest.order_number)
            window.orders._apply_search_now()
            _pump(qapp, tasks, at_least_ms=300)
            window.orders.table.selectRow(0)
        _pump(qapp, tasks, at_least_ms=300)
        window.tabs.setCurrentIndex(1)
        _pump(qapp, tasks, at_least_ms=600)
        history = window.history
        if hasattr(history, "compare") and best > 3:
            history.compare(2, min(best, 6))
            _pump(qapp, tasks, at_least_ms=600)
        _save(window, out, prefix + "03-history-diff", saved)

        window.tabs.setCurrentIndex(2)
        _pump(qapp, tasks, at_least_ms=600)
        snapshots = window.snapshots
        if hasattr(snapshots, "select_version") and best >= 50:
            snapshots.select_version(50 * (best // 50))
            _pump(qapp, tasks, at_least_ms=400)
            if hasattr(snapshots, "verify_selected"):
                snapshots.verify_selected()
                _pump(qapp, tasks, at_least_ms=600)
        _save(window, out, prefix + "04-snapshot-inspector", saved)
        window.tabs.setCurrentIndex(0)

        # Filters in use, a customer filter that matches nobody, the side panel folded away.
        window.orders.status_filter.actions_by_status["shipped"].setChecked(True)
        window.orders.search.setText("Café")
        window.orders._apply_search_now()
        window.orders.customer_filter.setEditText("Nobody Such Ltd")
        window.orders.customer_filter.resolve_typed()
        _pump(qapp, tasks, at_least_ms=400)
        _save(window, out, prefix + "05-filters", saved)
        window.orders.search.clear()
        window.orders.status_filter.clear()
        window.orders.customer_filter.choose(None)
        window.orders._apply_search_now()
        window.side_panel.set_visible(False)
        _pump(qapp, tasks, at_least_ms=300)
        _save(window, out, prefix + "06-side-panel-folded", saved)
        window.side_panel.set_visible(True)

        palette = window.command_palette.open()
        palette.input.setText("ship SO-0002")
        _pump(qapp, tasks, at_least_ms=400, until=lambda: not palette.searching())
        _save(palette, out, prefix + "07-command-palette", saved)
        palette.reject()
        _pump(qapp, tasks)
    finally:
        window.close()
        window.deleteLater()  # its timers must not outlive it
        _pump(qapp, tasks)
    return saved


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setFont(QFont("DejaVu Sans", 9))
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="order-desk-shots-") as tmp:
        folder = Path(tmp)
        tasks = TaskRunner()
        bridge = Bridge()

        # An empty desk first: what a new clerk sees.
        empty = bootstrap(Settings.default(folder / "empty.sqlite3"), source="screenshots")
        try:
            settings = QSettings(str(folder / "ui-empty.ini"), QSettings.Format.IniFormat)
            window = MainWindow(
                empty.commands, empty.queries, bridge, tasks, empty.info, settings=settings
            )
            window.resize(*WIDTHS[0])
            window.show()
            window.start()
            _pump(qapp, tasks, at_least_ms=400, until=lambda: window.orders.model.has_loaded)
            _save(window, out, f"{WIDTHS[0][0]}px-00-empty-desk", saved)
            window.close()
            window.deleteLater()
            _pump(qapp, tasks)
        finally:
            tasks.wait_idle(30000)
            empty.close()

        saved.extend(audit_screens(qapp, bridge, tasks, folder, out))

        print(f"building a demo database in {folder} …")
        db = build_database(folder, orders=300)
        app = bootstrap(Settings.default(db), source="screenshots")
        if app.projector is not None:
            app.projector.add_listener(bridge.publish_projector_status)
        window = None
        try:
            for size in WIDTHS:
                saved.extend(main_screens(qapp, app, bridge, tasks, folder, out, size))

            # The dialogs (their size does not follow the window's).
            settings = QSettings(str(folder / "ui.ini"), QSettings.Format.IniFormat)
            window = MainWindow(
                app.commands, app.queries, bridge, tasks, app.info, settings=settings
            )
            window.resize(*WIDTHS[1])
            window.show()
            window.start()
            _pump(qapp, tasks, until=lambda: window.orders.model.has_loaded)
            for name, action in (
                ("08-new-order", window.new_order),
                ("09-customers", window.open_customers),
                ("10-products", window.open_products),
            ):
                action()
                _pump(qapp, tasks, at_least_ms=600)
                dialog = _dialog(qapp, QDialog)
                if dialog is None:
                    print(f"  (skipped {name}: the dialog is not available)")
                    continue
                _save(dialog, out, name, saved)
                dialog.reject()
                _pump(qapp, tasks)

            # A confirmed order: the Order menu (its actions enabled and disabled, with their
            # shortcuts) and the Ship form with the error a missing tracking number gets.
            model = window.orders.model
            for row in range(model.rowCount()):
                item = model.row_at(row)
                if item is not None and item.status == "confirmed":
                    window.orders.table.selectRow(row)
                    break
            _pump(qapp, tasks, at_least_ms=400)
            menu = window.order_menu
            menu.popup(window.mapToGlobal(window.rect().topLeft()))
            _pump(qapp, tasks, at_least_ms=200)
            _save(menu, out, "13-order-menu", saved)
            menu.hide()
            ship = getattr(window.detail, "run", lambda _name: None)("ship")
            if ship is not None:
                _pump(qapp, tasks, at_least_ms=300)
                ship.submit()
                _pump(qapp, tasks, at_least_ms=400)
                _save(ship, out, "14-ship-error", saved)
                ship.reject()
                _pump(qapp, tasks)

            window.show_about()
            _pump(qapp, tasks, at_least_ms=200)
            about = _dialog(qapp, QMessageBox)
            if about is not None:
                _save(about, out, "11-about", saved)
                about.close()

            # The read-only banner (the same file, opened read-only).
            window.close()
            window.deleteLater()
            _pump(qapp, tasks)
            app.close()
            from dataclasses import replace

            app = bootstrap(replace(Settings.default(db), read_only=True), source="screenshots")
            window = MainWindow(
                app.commands, app.queries, bridge, tasks, app.info, settings=settings
            )
            window.resize(*WIDTHS[1])
            window.show()
            window.start()
            _pump(qapp, tasks, at_least_ms=400, until=lambda: window.orders.model.has_loaded)
            _save(window, out, "12-read-only", saved)
        finally:
            if window is not None:
                window.close()
            tasks.wait_idle(30000)
            qapp.processEvents()
            app.close()
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
