"""Render Order Desk's screens to PNG files: ``python packaging/screenshots.py [OUT_DIR]``.

Opens an empty desk (the start-here state), then builds a demo database in a temporary folder
(``load_demo`` + projector catch-up) and saves the main window's screens at 1024, 1280 and
1920 px wide (``WIDTHS``: list, order detail, History with a diff, Snapshot inspector, filters
with a customer that matches nobody, the side panel folded away, the command palette), then
each dialog (New order, Customers, Products, About) and the read-only banner, and the audit
view of a 10,000-event order with an event edited in the file (``audit_screens``), under
``screenshots/`` (git-ignored). Look at every one: a clipped label is a bug. No app logic lives
here.

Over 500 lines on purpose: one scripted walk through every screen, in the order it is shown.
``--workbench`` renders only the auditor's workbench screens (notes, refused commands, the
add-note dialog and the previews before a change).
"""

from __future__ import annotations

import contextlib
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


def build_workbench_orders(path: Path) -> tuple[str, str, str]:
    """A small file for the auditor's workbench screens: an order with a run of quantity
    changes over days, auditors' notes (on the order, on events, a correction) and a refused
    command; a pending and a confirmed order for the previews. Returns their ids."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from desktop_app.application import commands as c
    from desktop_app.application import queries as q
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.domain.errors import DomainError

    class Clock:
        def __init__(self) -> None:
            self.now = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)

        def __call__(self) -> datetime:
            self.now += timedelta(hours=3)
            return self.now

    app = bootstrap(Settings.default(path), source="screenshots", clock=Clock())
    try:
        send = app.commands.dispatch
        customer = c.RegisterCustomer(name="Kaffeehaus Maria GmbH", address="Wiedner Hauptstr. 5")
        send(customer)
        mug = c.AddProduct(sku="MUG-CLK", name="Clerk mug", price=Decimal("4.50"), currency="EUR")
        pot = c.AddProduct(
            sku="POT-TEA", name="Tea pot, stoneware", price=Decimal("19.90"), currency="EUR"
        )
        send(mug)
        send(pot)
        lines = (
            c.LineInput(product_id=mug.product_id, quantity=3),
            c.LineInput(product_id=pot.product_id, quantity=1),
        )
        audited = c.PlaceOrder(customer_id=customer.customer_id, lines=lines)
        send(audited)
        order = audited.order_id
        state = app.queries.ask(q.GetOrderAtVersion(order_id=order)).state
        mug_line = str(state["lines"][0]["line_id"])  # type: ignore[index,call-overload]
        for quantity in range(4, 16):
            send(c.ChangeLineQuantity(order_id=order, line_id=mug_line, quantity=quantity))
        send(c.ConfirmOrder(order_id=order))
        # Refused (the order is confirmed): recorded in the rejection log.
        with contextlib.suppress(DomainError):
            send(c.ChangeLineQuantity(order_id=order, line_id=mug_line, quantity=40))
        send(c.AnnotateOrder(order_id=order, text="Audit of January: 12 quantity changes."))
        first = c.AnnotateOrder(
            order_id=order, text="Placed by phone, no written order on file.", target_version=1
        )
        send(first)
        send(
            c.AnnotateOrder(
                order_id=order,
                text="Written order found in the shared mailbox (13 Jan).",
                target_version=1,
                corrects=first.note_id,
            )
        )
        send(
            c.AnnotateOrder(
                order_id=order,
                text="Why raised from 9 to 10 on a Sunday? Asked maria.",
                target_version=9,
            )
        )
        pending = c.PlaceOrder(customer_id=customer.customer_id, lines=lines)
        send(pending)
        confirmed = c.PlaceOrder(customer_id=customer.customer_id, lines=lines[:1])
        send(confirmed)
        send(c.ConfirmOrder(order_id=confirmed.order_id))
        if app.projector is not None:
            while app.projector.run_once():
                pass
    finally:
        app.close()
    return order, pending.order_id, confirmed.order_id


def workbench_screens(qapp: Any, bridge: Any, tasks: Any, folder: Path, out: Path) -> list[Path]:
    """Auditors' notes and refused commands in the audit view and History at each of
    ``WIDTHS``, then the add-note dialog and the previews before a change (ship, edit lines,
    a refused one)."""
    from PySide6.QtCore import QSettings

    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.orders.form_view import load_order_view
    from desktop_app.ui.orders.forms import DeliverOrderDialog, EditLinesDialog, ShipOrderDialog

    saved: list[Path] = []
    path = folder / "workbench.sqlite3"
    order_id, pending_id, confirmed_id = build_workbench_orders(path)
    app = bootstrap(Settings.default(path), source="screenshots")
    try:
        for size in WIDTHS:
            settings = QSettings(str(folder / f"ui-wb-{size[0]}.ini"), QSettings.Format.IniFormat)
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
                prefix = f"{size[0]}px-"
                window.tabs.setCurrentIndex(1)
                history = window.history
                _pump(qapp, tasks, at_least_ms=300)
                model = history.model
                refused = next(
                    (r for r in range(model.rowCount()) if model.refused_at(r) is not None), None
                )
                if refused is not None:
                    history.timeline.setCurrentIndex(model.index(refused, 0))
                    _pump(qapp, tasks, at_least_ms=200)
                _save(window, out, prefix + "18-history-notes-refused", saved)
                history.select_version(9)
                _pump(qapp, tasks, at_least_ms=300)
                _save(window, out, prefix + "19-history-event-note", saved)
                window.tabs.setCurrentIndex(0)
                window.audit.enter()
                view = window.audit.view
                _pump(
                    qapp,
                    tasks,
                    at_least_ms=400,
                    until=lambda v=view: v is not None and v.audit is not None and v.audit.checked,
                )
                _save(window, out, prefix + "20-audit-notes-refused", saved)
                if view is not None:
                    view.jump_to_version(9)
                    _pump(qapp, tasks, at_least_ms=300)
                    _save(window, out, prefix + "21-audit-event-note", saved)
                    rows = view.canvas.rows
                    refused_row = next(
                        (i for i, row in enumerate(rows) if row.kind == "refused"), None
                    )
                    if refused_row is not None:
                        view.canvas.select_row(refused_row)
                        view.scroll_area.ensureVisible(0, rows[refused_row].y + 20, 0, 120)
                        _pump(qapp, tasks, at_least_ms=200)
                        _save(window, out, prefix + "22-audit-refused-selected", saved)
                    if size == WIDTHS[1]:
                        view.jump_to_version(9)
                        dialog = view.add_note()
                        _pump(qapp, tasks, at_least_ms=300)
                        if dialog is not None:
                            _save(dialog, out, "23-add-note-dialog", saved)
                            dialog.save_button.click()  # empty: the message, nothing sent
                            _pump(qapp, tasks, at_least_ms=200)
                            _save(dialog, out, "24-add-note-empty", saved)
                            dialog.reject()
                            _pump(qapp, tasks)
            finally:
                window.close()
                window.deleteLater()
                _pump(qapp, tasks)

        # The previews before a change (dialogs: their size does not follow the window's).
        def preview_of(form: Any, name: str) -> None:
            form.show()
            _pump(qapp, tasks, at_least_ms=300)
            form.submit()
            _pump(qapp, tasks, at_least_ms=300, until=lambda: form.preview_dialog is not None)
            if form.preview_dialog is not None:
                _save(form.preview_dialog, out, name, saved)
                form.preview_dialog.reject()
            _pump(qapp, tasks)
            form.reject()
            form.deleteLater()
            _pump(qapp, tasks)

        ship = ShipOrderDialog(
            app.commands, app.queries, tasks, load_order_view(app.queries, confirmed_id)
        )
        ship.tracking_edit.setText("1Z 999 AA1 01 2345 6784")
        ship.carrier_edit.setText("UPS")
        preview_of(ship, "25-preview-ship")
        edit = EditLinesDialog(
            app.commands, app.queries, tasks, load_order_view(app.queries, pending_id)
        )
        edit.show()
        _pump(qapp, tasks, at_least_ms=300)
        drafts = edit.line_editor.lines()
        if len(drafts) == 2:
            from dataclasses import replace

            edit.line_editor.set_lines([replace(drafts[0], quantity=7)])
        preview_of(edit, "26-preview-edit-lines")
        deliver = DeliverOrderDialog(
            app.commands, app.queries, tasks, load_order_view(app.queries, confirmed_id)
        )
        preview_of(deliver, "27-preview-refused")
    finally:
        tasks.wait_idle(30000)
        app.close()
    return saved


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
    only_workbench = "--workbench" in args  # only the auditor's workbench screens
    args = [a for a in args if a != "--workbench"]
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

        if only_workbench:
            saved.extend(workbench_screens(qapp, bridge, tasks, folder, out))
            print(f"{len(saved)} screenshots in {out}")
            return 0

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
        saved.extend(workbench_screens(qapp, bridge, tasks, folder, out))

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
