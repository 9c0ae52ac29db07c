"""GUI entry point: ``python -m desktop_app [--db PATH] [--read-only]``.

The only module that sees both Qt and the composition root: it opens the database (refusing
damaged or foreign files with a clear message, R21), composes the application, starts the
background jobs (projector, snapshots, WAL checkpoint, backups), shows the main window and shuts
everything down cleanly. Nothing runs at import time.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("desktop_app")

EXIT_OK = 0
EXIT_OPEN_FAILED = 2

_OPEN_PROBLEMS: dict[str, str] = {
    "not_found": "The database file does not exist.",
    "empty": "The database file is empty (0 bytes). It may have been cut short by a crash or "
    "an interrupted copy.",
    "not_sqlite": "The file is not an Order Desk database.",
    "corrupt": "The database file is damaged.",
    "foreign": "The file is a database of another program, not of Order Desk.",
    "no_access": "You do not have permission to read the database file.",
    "unavailable": "The database file could not be opened.",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desktop-app", description="Order Desk: sales orders with a verifiable history."
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="database file (default: in your data folder)"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="open the database without changing it"
    )
    parser.add_argument(
        "--no-sample-offer",
        action="store_true",
        help="do not offer sample data on an empty database",
    )
    from desktop_app.self_test import add_cli_flags

    add_cli_flags(parser)
    return parser


def open_error_message(kind: str, path: Path, detail: str, backups: Path) -> tuple[str, str]:
    """(title, text) for a database that cannot be opened: what is wrong, that the file was
    left untouched, and where the backups are."""
    problem = _OPEN_PROBLEMS.get(kind, "The database file could not be opened.")
    lines = [
        problem,
        "",
        f"File: {path}",
        "",
        "Order Desk has not changed this file.",
    ]
    if kind in {"corrupt", "empty", "not_sqlite", "unavailable"}:
        lines += [
            "",
            "To continue, restore the most recent backup. Backups are kept in:",
            str(backups),
        ]
    elif kind == "foreign":
        lines += [
            "",
            "Choose the Order Desk database file instead (Order Desk backups are in:",
            f"{backups}).",
        ]
    elif kind == "no_access":
        lines += ["", "Ask your administrator for access, or restore a backup from:", str(backups)]
    if detail and detail not in problem:
        lines += ["", f"Details: {detail}"]
    return "Order Desk cannot open the database", "\n".join(lines)


def _show_startup_error(title: str, text: str) -> None:
    """A modal message box before any window exists (tests replace this)."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Close)
    box.setObjectName("startupError")
    box.exec()


def _qt_app() -> Any:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    existing = QCoreApplication.instance()
    if existing is not None:
        return existing
    QApplication.setApplicationName("Order Desk")
    QApplication.setOrganizationName("OrderDesk")
    QApplication.setApplicationDisplayName("Order Desk")
    app = QApplication(sys.argv[:1])
    app.setDesktopFileName("order-desk")
    try:
        from desktop_app.resources import apply_to

        apply_to(app)
    except OSError:
        log.exception("application icon or style sheet missing")
    return app


def _is_empty(app: Any) -> bool:
    try:
        return int(app.events.head_position()) == 0
    except Exception:  # unknown: do not offer
        log.exception("could not tell whether the database is empty")
        return False


def _demo_loader(app: Any) -> Callable[[Callable[[int, int], None]], Any] | None:
    try:
        from desktop_app.demo_data import load_demo
    except ImportError:
        return None

    def load(progress: Callable[[int, int], None]) -> Any:
        return load_demo(app.commands, orders=300, seed=7, progress=progress, queries=app.queries)

    return load


def _start_jobs(app: Any, bridge: Any) -> Any | None:
    """Start the projector and background jobs; None when they are not available."""
    projector = getattr(app, "projector", None)
    if projector is not None:
        projector.add_listener(bridge.publish_projector_status)
    try:
        from desktop_app.store.maintenance import build_jobs
    except ImportError:
        log.warning("background jobs are not available in this build")
        return None
    jobs = build_jobs(app)
    add_listener = getattr(jobs, "add_listener", None)
    if callable(add_listener):
        add_listener(lambda status: bridge.publish_job_status(status.name, status))
    jobs.start()
    return jobs


def run(
    argv: Sequence[str] | None = None,
    *,
    show_error: Callable[[str, str], None] | None = None,
    exec_loop: bool = True,
    on_window: Callable[[Any], None] | None = None,
) -> int:
    """``main`` with hooks for tests: ``show_error(title, text)`` replaces the startup message
    box; ``exec_loop=False`` returns right after the window is shown (``on_window(window)`` is
    called first) and shuts down."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    from desktop_app.self_test import handle_cli_flags

    early = handle_cli_flags(args)
    if early is not None:
        return early

    from desktop_app.application.ports import StoreError
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings, default_log_dir
    from desktop_app.store.engine import DatabaseOpenError, backup_folder
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.errors import ExceptionHook, explain, setup_logging
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner

    settings = Settings.default(args.db.expanduser() if args.db else None)
    # Small projector batches keep the window smooth while it catches up (P5: no GUI-thread
    # stall > 50 ms); the headless projector and the CLI keep the faster bulk batches.
    settings = dataclasses.replace(settings, projector_batch=200, projector_bulk_catch_up=False)
    if args.read_only:
        from dataclasses import replace

        settings = replace(settings, read_only=True)
    qapp = _qt_app()
    try:
        log_file = setup_logging(settings.log_dir or default_log_dir())
        log.info("Order Desk starting on %s (log %s)", settings.db_path, log_file)
    except OSError as exc:  # logging must never stop the program
        print(f"logging disabled: {exc}", file=sys.stderr)

    show = show_error or _show_startup_error
    window: Any = None
    hook = ExceptionHook(lambda: window)
    hook.install()
    try:
        try:
            app = bootstrap(settings, source="gui")
        except DatabaseOpenError as exc:
            log.error("cannot open %s: %s (%s)", settings.db_path, exc, exc.kind)
            title, text = open_error_message(exc.kind, exc.path, str(exc), backup_folder(exc.path))
            show(title, text)
            return EXIT_OPEN_FAILED
        except StoreError as exc:
            log.error("cannot open %s: %r", settings.db_path, exc)
            title, text = explain(exc)
            show("Order Desk cannot open the database", f"{text}\n\nFile: {settings.db_path}")
            return EXIT_OPEN_FAILED

        bridge = Bridge()
        tasks = TaskRunner()
        jobs = None
        window_error: str | None = None
        try:
            try:
                jobs = _start_jobs(app, bridge)
            except Exception:
                log.exception("background jobs could not start")
                window_error = "The order list will not update by itself (see the log)."
            window = MainWindow(app.commands, app.queries, bridge, tasks, app.info)
            from desktop_app.startup_probe import watch_first_paint

            watch_first_paint(window)
            if window_error:
                window.status.show_unavailable(window_error)
            window.show()
            window.start()
            if app.info.read_only:
                log.warning("opened read-only: %s", app.info.read_only_reason)
            elif not args.no_sample_offer and _is_empty(app):
                loader = _demo_loader(app)
                if loader is not None:
                    window.offer_sample_data(loader)
            if on_window is not None:
                on_window(window)
            rc = qapp.exec() if exec_loop else EXIT_OK
            return int(rc)
        finally:
            if window is not None:
                window.close()
            if jobs is not None:
                try:
                    jobs.shutdown(wait=True)
                except Exception:
                    log.exception("stopping background jobs failed")
            tasks.wait_idle(30000)
            qapp.processEvents()  # deliver the last results before the buses go away
            app.close()
            log.info("Order Desk closed")
            if window is not None:
                window.deleteLater()
    finally:
        hook.uninstall()


def main(argv: Sequence[str] | None = None) -> int:
    """Start Order Desk; returns the process exit code."""
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
