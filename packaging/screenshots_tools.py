"""Render the Tools menu's screens (issue 11) to PNG: ``python packaging/screenshots_tools.py
[OUT_DIR]``.

On a demo database: the main window with the status bar's backups and the freshness tooltip
text, at 1024, 1280 and 1920 px; the Tools menu; Verify's progress with Cancel (being
cancelled) and its result (a cancelled one, and one with findings: the findings come from a
forged copy of the file, forged as ``tests`` forge them); the digest results; the restore
confirmation and a refusal; the Order menu's Export audit bundle… and its result. Look at
every one: a clipped label is a bug.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots import WIDTHS, _pump, _save, build_database


def _forge(db: Path) -> None:
    """Append an event the program would refuse (deliver a cancelled order), hashed and
    linked like a real one: only the replay can tell."""
    from desktop_app.store.hashing import row_hash

    con = sqlite3.connect(db, isolation_level=None)
    try:
        for stream, version in con.execute(
            "SELECT stream_id, max(version) FROM events WHERE stream_id LIKE 'order-%' "
            "GROUP BY stream_id"
        ).fetchall():
            last = con.execute(
                "SELECT type_name FROM events WHERE stream_id = ? AND version = ?",
                (stream, version),
            ).fetchone()[0]
            if last == "OrderCancelled":  # delivering a cancelled order: illegal
                break
        position, head = con.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        metadata, recorded_at = con.execute(
            "SELECT metadata, recorded_at FROM events WHERE position = ?", (position,)
        ).fetchone()
        row = (
            position + 1,
            stream,
            version + 1,
            f"forged-{position + 1}",
            "OrderDelivered",
            1,
            json.dumps({"order_id": stream.removeprefix("order-")}, separators=(",", ":")),
            metadata,
            recorded_at,
        )
        con.execute(
            "INSERT INTO events (position, stream_id, version, event_id, type_name, "
            "schema_version, payload, metadata, recorded_at, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*row, head, row_hash(head, *row)),
        )
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "screenshots").absolute()
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QProgressDialog, QPushButton

    from desktop_app.application.commands import BackupNow
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner
    from desktop_app.ui.verify_dialog import VerifyResultDialog

    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setFont(QFont("DejaVu Sans", 9))
    saved: list[Path] = []

    def window_on(app: Any, folder: Path, size: tuple[int, int]) -> Any:
        settings = QSettings(str(folder / f"ui-{size[0]}.ini"), QSettings.Format.IniFormat)
        window = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
        window.resize(*size)
        window.show()
        window.start()
        _pump(qapp, tasks, until=lambda: window.orders.model.has_loaded)
        return window

    def top(kind: type, name: str) -> Any:
        return next(
            (
                w
                for w in qapp.topLevelWidgets()
                if isinstance(w, kind) and w.isVisible() and w.objectName() == name
            ),
            None,
        )

    def close(window: Any) -> None:
        window.close()
        window.deleteLater()
        _pump(qapp, tasks)

    with tempfile.TemporaryDirectory(prefix="order-desk-tools-") as tmp:
        folder = Path(tmp)
        tasks = TaskRunner()
        bridge = Bridge()
        print(f"building a demo database in {folder} …")
        db = build_database(folder, orders=300)
        app = bootstrap(Settings.default(db), source="screenshots")
        try:
            app.commands.run_maintenance(BackupNow())
            for size in WIDTHS:
                window = window_on(app, folder, size)
                status = app.projector.status() if app.projector is not None else None
                if status is not None:
                    bridge.publish_projector_status(status)
                _pump(qapp, tasks, at_least_ms=300)
                _save(window, out, f"{size[0]}px-21-status-backups", saved)
                # The freshness tooltip, rendered as a label (offscreen has no tooltips).
                tip = QLabel(window.status.freshness.toolTip())
                tip.setStyleSheet("QLabel { background: #ffffdc; padding: 4px; }")
                tip.adjustSize()
                _save(tip, out, f"{size[0]}px-22-freshness-tooltip", saved)
                close(window)

            window = window_on(app, folder, WIDTHS[1])
            menu = window.tools
            menu.popup(window.mapToGlobal(window.rect().topLeft()))
            _pump(qapp, tasks, at_least_ms=200)
            _save(menu, out, "23-tools-menu", saved)
            menu.hide()

            # Verify, cancelled: the pool is held so Cancel comes before the first chunk.
            from PySide6.QtCore import QThreadPool

            gate = threading.Event()
            QThreadPool.globalInstance().setMaxThreadCount(1)
            tasks.submit(lambda: gate.wait(30), lambda _r: None, lambda _e: None)
            window.tools.action_verify.trigger()
            progress = window.tools.verify_progress
            _pump(qapp, tasks, at_least_ms=200, timeout_ms=300)
            if isinstance(progress, QProgressDialog):
                _save(progress, out, "24-verify-progress", saved)
                button = progress.findChild(QPushButton)
                if button is not None:
                    button.click()
                _pump(qapp, tasks, at_least_ms=200, timeout_ms=300)
                _save(progress, out, "25-verify-cancelling", saved)
            gate.set()
            QThreadPool.globalInstance().setMaxThreadCount(max(2, QThreadPool().maxThreadCount()))
            _pump(qapp, tasks, until=lambda: top(VerifyResultDialog, "verifyResult") is not None)
            dialog = top(VerifyResultDialog, "verifyResult")
            if dialog is not None:
                _save(dialog, out, "26-verify-cancelled", saved)
                dialog.close()

            # Export digest / Check against it.
            digest = folder / "digest.json"
            window.tools.export_digest_to(str(digest))
            _pump(qapp, tasks, until=lambda: top(QMessageBox, "digestResult") is not None)
            box = top(QMessageBox, "digestResult")
            if box is not None:
                _save(box, out, "27-digest-exported", saved)
                box.close()
            window.tools.check_digest_from(str(digest))
            _pump(qapp, tasks, until=lambda: top(QMessageBox, "digestResult") is not None)
            box = top(QMessageBox, "digestResult")
            if box is not None:
                _save(box, out, "28-digest-checked", saved)
                box.close()

            # Restore: the confirmation, and a refusal.
            backup = str(app.commands.run_maintenance(BackupNow()))
            window.tools.review_restore(backup)
            _pump(qapp, tasks, until=lambda: top(QMessageBox, "restoreConfirm") is not None)
            box = top(QMessageBox, "restoreConfirm")
            if box is not None:
                _save(box, out, "29-restore-confirm", saved)
                box.button(QMessageBox.StandardButton.Cancel).click()
            window.tools.review_restore(str(db))
            _pump(qapp, tasks, until=lambda: top(QMessageBox, "restoreRefused") is not None)
            box = top(QMessageBox, "restoreRefused")
            if box is not None:
                _save(box, out, "30-restore-refused", saved)
                box.close()
            # Order ▸ Export audit bundle…: the menu and the result.
            item = window.orders.model.row_at(0)
            if item is not None:
                window.orders.select_order(item.order_id)
                _pump(qapp, tasks, at_least_ms=300)
                order_menu = window.order_menu
                order_menu.popup(window.mapToGlobal(window.rect().topLeft()))
                _pump(qapp, tasks, at_least_ms=200)
                _save(order_menu, out, "33-order-menu-audit-bundle", saved)
                order_menu.hide()
                window.audit_bundle.export_to(item.order_id, str(folder / "bundle.zip"))
                _pump(
                    qapp,
                    tasks,
                    until=lambda: top(QMessageBox, "auditBundleResult") is not None,
                    timeout_ms=60000,
                )
                box = top(QMessageBox, "auditBundleResult")
                if box is not None:
                    _save(box, out, "34-audit-bundle-written", saved)
                    box.close()
            close(window)
        finally:
            tasks.wait_idle(30000)
            app.close()

        # Findings: a forged copy.
        forged = folder / "forged" / "orders.sqlite3"
        forged.parent.mkdir()
        source = sqlite3.connect(db)
        try:
            target = sqlite3.connect(forged)
            source.backup(target)
            target.close()
        finally:
            source.close()
        _forge(forged)
        app = bootstrap(Settings.default(forged), source="screenshots")
        try:
            for size in WIDTHS:
                window = window_on(app, folder, size)
                window.tools.action_verify.trigger()
                _pump(
                    qapp, tasks, until=lambda: top(VerifyResultDialog, "verifyResult") is not None
                )
                dialog = top(VerifyResultDialog, "verifyResult")
                if dialog is not None:
                    _save(dialog, out, f"{size[0]}px-31-verify-findings", saved)
                    dialog.open_row(0)
                    dialog.close()
                    _pump(qapp, tasks, at_least_ms=600)
                    _save(window, out, f"{size[0]}px-32-finding-opened", saved)
                close(window)
        finally:
            tasks.wait_idle(30000)
            app.close()
    print(f"{len(saved)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
