"""Render the desk as of a date (issue 11) to PNG: ``python packaging/screenshots_as_of.py
[OUT_DIR]``.

On a demo desk whose events are spread over two weeks of March 2026 (a stepping clock): the
"Desk as of…" dialog, the order list as of 12 Mar 2026 14:00 (local time) at 1024, 1280 and
1920 px, the same filtered by a customer, and the audit view's "State at" answer. Look at
every one: a clipped label is a bug. No app logic lives here.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots import WIDTHS, _pump, _save

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
STEP = timedelta(minutes=12)


class _Clock:
    """Each reading ``STEP`` after the last: a desk whose history spans days."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += STEP
        return self.now


def build(path: Path) -> None:
    """A demo desk with 300 orders, events spread over two weeks, read model caught up."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.demo_data import load_demo

    app = bootstrap(Settings.default(path), source="screenshots", clock=_Clock())
    try:
        load_demo(app.commands, orders=300, seed=7, queries=app.queries)
        assert app.projector is not None
        while app.projector.run_once():
            pass
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.orders.as_of import AsOfDialog, wall_clock
    from desktop_app.ui.tasks import TaskRunner

    qapp: Any = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setFont(QFont("DejaVu Sans", 9))
    saved: list[Path] = []
    moment = datetime(2026, 3, 12, 14, 0).astimezone()  # local wall-clock time
    with tempfile.TemporaryDirectory(prefix="order-desk-asof-shots-") as tmp:
        folder = Path(tmp)
        path = folder / "orders.sqlite3"
        print("building a demo desk spread over March 2026 …")
        build(path)
        tasks = TaskRunner()
        bridge = Bridge()
        app = bootstrap(Settings.default(path), source="screenshots")
        try:
            for size in WIDTHS:
                prefix = f"{size[0]}px-"
                settings = QSettings(str(folder / f"ui-{size[0]}.ini"), QSettings.Format.IniFormat)
                window = MainWindow(
                    app.commands, app.queries, bridge, tasks, app.info, settings=settings
                )
                try:
                    window.resize(*size)
                    window.show()
                    window.start()
                    _pump(qapp, tasks, until=lambda w=window: w.orders.model.has_loaded)
                    if size == WIDTHS[1]:
                        dialog = AsOfDialog(None, window)
                        dialog.edit.setDateTime(wall_clock(moment))
                        dialog.show()
                        _pump(qapp, tasks, at_least_ms=200)
                        _save(dialog, out, "18-desk-as-of-dialog", saved)
                        dialog.close()
                    window.as_of.show_at(moment)
                    _pump(qapp, tasks, at_least_ms=400, until=lambda w=window: w.as_of.active)
                    _save(window, out, prefix + "19-desk-as-of", saved)
                    view = window.as_of.view
                    if view is not None and size != WIDTHS[0]:
                        first = view.model.row_at(0)
                        if first is not None:
                            view.search.setText(first.customer_name.split()[0])
                            _pump(qapp, tasks, at_least_ms=200)
                            _save(window, out, prefix + "20-desk-as-of-filtered", saved)
                            view.search.clear()
                    if view is not None:
                        order = view.model.row_at(0)
                        window.as_of.leave()
                        _pump(qapp, tasks, at_least_ms=200)
                        if order is not None:
                            window.orders.select_order(order.order_id)
                            _pump(qapp, tasks, at_least_ms=300)
                            window.audit.enter()
                            audit = window.audit.view
                            _pump(
                                qapp,
                                tasks,
                                at_least_ms=400,
                                until=lambda a=audit: a is not None and a.audit is not None,
                            )
                            if audit is not None:
                                audit.state_at.edit.setDateTime(wall_clock(moment))
                                audit.state_at.show_state()
                                _pump(qapp, tasks, at_least_ms=800)
                                _save(window, out, prefix + "21-audit-state-at", saved)
                finally:
                    window.close()
                    window.deleteLater()
                    _pump(qapp, tasks)
            QTimer.singleShot(0, lambda: None)
        finally:
            tasks.wait_idle(30000)
            app.close()
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
