"""Render the log-wide event browser to PNG files: ``python packaging/screenshots_browser.py
[OUT_DIR]``.

Builds a demo desk in a temporary folder written by three clerks at three workstations (the
demo data through real command buses with their identities, over four days of a stepping
clock, with a few refused commands), then saves the browser at 1024, 1280 and 1920 px wide:
the newest page, "everything maria did on Friday afternoon", a refused command selected, and
the audit view a row opened. Look at every one: a clipped label is a bug. No app logic here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import WIDTHS, _pump, _save

START = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)  # a Friday morning
CLERKS = (("maria", "WS-3"), ("jonas", "WS-1"), ("li", "WS-2"))


class _Clock:
    """A minute a reading: the first clerk's work runs into Friday afternoon."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def build(folder: Path) -> Path:
    """The demo desk written by three clerks, with refused commands."""
    from desktop_app.application import commands as c
    from desktop_app.application import handlers as h
    from desktop_app.application.composition import compose
    from desktop_app.application.queries import ListOrders
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.demo_data import load_demo
    from desktop_app.domain.errors import DomainError
    from desktop_app.store.rejection_store import SqliteRejectionLog

    path = folder / "browse.sqlite3"
    clock = _Clock()
    app = bootstrap(Settings.default(path), source="screenshots", clock=clock)
    try:
        assert app.database is not None
        for n, (user, host) in enumerate(CLERKS):
            clerk = compose(
                app.events,
                app.snapshots,
                identity=h.Identity(user=user, host=host, app_version="1.4.0", source="gui"),
                rejections=SqliteRejectionLog(app.database, clock=clock),
            )
            load_demo(clerk.commands, orders=60, seed=7 + n, queries=app.queries)
            while app.projector.run_once():
                pass
            pending = app.queries.ask(ListOrders(statuses=frozenset({"pending"}), limit=2))
            for row in pending.rows:
                # A pending order cannot be shipped: refused, and recorded.
                with contextlib.suppress(DomainError):
                    clerk.commands.dispatch(
                        c.ShipOrder(order_id=row.order_id, tracking_number="TRK-1", carrier="DHL")
                    )
        while app.projector.run_once():
            pass
    finally:
        app.close()
    return path


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from desktop_app.application.event_browser import LogFilter
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setFont(QFont("DejaVu Sans", 9))
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="order-desk-browser-") as tmp:
        folder = Path(tmp)
        print(f"building a three-clerk demo desk in {folder} …")
        db = build(folder)
        tasks = TaskRunner()
        bridge = Bridge()
        app = bootstrap(Settings.default(db), source="screenshots")
        try:
            for width, height in WIDTHS:
                settings = QSettings(str(folder / f"ui-{width}.ini"), QSettings.Format.IniFormat)
                window = MainWindow(
                    app.commands, app.queries, bridge, tasks, app.info, settings=settings
                )
                window.resize(width, height)
                window.show()
                window.start()
                _pump(qapp, tasks, until=lambda w=window: w.orders.model.has_loaded)
                browser = window.event_browser.show()
                browser.resize(width, height)
                _pump(qapp, tasks, until=lambda b=browser: b.page is not None)
                prefix = f"{width}px-4"
                _save(browser, out, prefix + "0-event-browser", saved)
                friday = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
                browser.filters.show_filter(
                    LogFilter(user="maria", since=friday, until=friday + timedelta(hours=6))
                )
                browser.filters.apply()
                _pump(qapp, tasks, until=lambda b=browser: b.where.user == "maria")
                _save(browser, out, prefix + "1-event-browser-maria-friday-afternoon", saved)
                browser.filters.clear()
                _pump(qapp, tasks, until=lambda b=browser: b.where.user is None)
                refused = next(
                    (i for i, r in enumerate(browser.model.rows) if r.kind == "rejection"), None
                )
                if refused is None:
                    browser.older()
                    _pump(qapp, tasks)
                    refused = next(
                        (i for i, r in enumerate(browser.model.rows) if r.kind == "rejection"), 0
                    )
                browser.table.selectRow(refused)
                _pump(qapp, tasks)
                _save(browser, out, prefix + "2-event-browser-refused-selected", saved)
                order_row = next(
                    i for i, r in enumerate(browser.model.rows) if r.order_id and r.kind == "event"
                )
                browser.table.selectRow(order_row)
                browser.open_current()
                _pump(
                    qapp,
                    tasks,
                    at_least_ms=400,
                    until=lambda w=window: (
                        w.audit.view is not None and w.audit.view.audit is not None
                    ),
                )
                _save(window, out, prefix + "3-audit-view-from-browser", saved)
                browser.close()
                window.close()
                window.deleteLater()
                _pump(qapp, tasks)
        finally:
            tasks.wait_idle(30000)
            app.close()
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
