"""GUI entry point: ``python -m desktop_app [--db PATH] [--read-only]``.

The only module that sees both Qt and the composition root. Start-up order (P5/P7 first
paint): the database is opened and the application composed on a helper thread while the main
window is built and shown in an "Opening database…" state; then the window is connected to the
buses and loads the first page, or, for a damaged or foreign file, the window goes away and a
clear message is shown (R21). The background jobs (projector, snapshots, WAL checkpoint,
backups) start once the first rows are on screen. Everything shuts down cleanly. Nothing runs
at import time.

Over 500 lines on purpose: start-up, the helper-thread opener and shutdown are one sequence.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the window paints before these load (P5/P7)
    from desktop_app.bootstrap import App
    from desktop_app.config import Settings
    from desktop_app.jobs import Jobs
    from desktop_app.ui.bridge import Bridge

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
        "--db",
        type=_db_location,
        default=None,
        help="database file (default: in your data folder) or postgresql://user@host/dbname",
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


def _db_location(text: str) -> Any:
    """``--db``: a file path or a ``postgresql://`` server address (``config.parse_location``)."""
    from desktop_app.config import LocationError, parse_location

    try:
        location = parse_location(text)
    except LocationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return location.expanduser() if isinstance(location, Path) else location


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


def _ask_yes_no(title: str, text: str) -> bool:
    """A modal yes/no question before any window exists (tests replace this)."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
    )
    box.setObjectName("createDatabaseQuestion")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def missing_folder_question(path: Path) -> tuple[str, str] | None:
    """(title, text) asking whether to create a database in a folder that does not exist, or
    None when the folder is there (a mistyped ``--db`` must not quietly start a new desk)."""
    folder = path.absolute().parent
    if path.exists() or folder.is_dir():
        return None
    return (
        "Create a new database?",
        f"The folder {folder} does not exist, so there is no database at\n{path}\n\n"
        "Create the folder and a new, empty Order Desk database there?\n\n"
        "Choose No if the path is mistyped; nothing will be created.",
    )


def with_db(argv: Sequence[str], db: Any) -> list[str]:
    """``argv`` with ``--db`` replaced by ``db`` (and ``--read-only`` dropped: a database the
    clerk chose to open is opened normally, read-only only when it must be)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--db":
            skip = True
            continue
        if arg.startswith("--db=") or arg == "--read-only":
            continue
        out.append(arg)
    # A server's own URL, not its display form (which hides a password).
    return [*out, "--db", str(getattr(db, "url", db))]


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


def _is_empty(app: App) -> bool:
    try:
        return int(app.events.head_position()) == 0
    except Exception:  # unknown: do not offer
        log.exception("could not tell whether the database is empty")
        return False


def _demo_loader(app: App) -> Callable[[Callable[[int, int], None]], Any]:
    from desktop_app.demo_data import load_demo

    def load(progress: Callable[[int, int], None]) -> Any:
        return load_demo(app.commands, orders=300, seed=7, progress=progress, queries=app.queries)

    return load


def _start_jobs(app: App, bridge: Bridge) -> Jobs:
    """Start the projector and the other background jobs."""
    from desktop_app.jobs import build_jobs

    if app.projector is not None:
        app.projector.add_listener(bridge.publish_projector_status)
    jobs = build_jobs(app)
    jobs.add_listener(lambda status: bridge.publish_job_status(status.name, status))
    jobs.start()
    return jobs


def freeze_start_up_objects() -> None:
    """Collect once, then move every object that exists now (modules, classes, Qt wrappers,
    SQLAlchemy's and the store's set-up: tens of thousands) out of the cyclic garbage
    collector's reach (``gc.freeze``).

    Why (P5: no GUI-thread stall > 50 ms while the projector catches up): the projector and
    the query workers allocate steadily, which now and then triggers a full (generation 2)
    collection on whichever thread allocates; it walks every tracked object while holding the
    GIL, and measured 30-75 ms on a busy two-core machine: a stall of the GUI thread that much
    longer whenever it landed on a repaint. Frozen objects are still freed by reference
    counting; only cycles among them are never collected, and start-up makes next to none.
    Later full collections walk what was created since, a fraction of a millisecond here.
    Called once, on the GUI thread, when the first rows are on screen and before the
    background jobs start."""
    gc.collect()
    gc.freeze()
    gc.enable()  # off since run() began: start-up makes next to no cycles


JOBS_START_DELAY_MS = 100
JOBS_START_FALLBACK_MS = 1500


def _start_jobs_after_first_rows(
    window: Any, app: App, bridge: Bridge, started: dict[str, Jobs | None]
) -> None:
    """Start the projector and background jobs once the first page of orders has arrived
    (or failed, or after a short fallback delay), so that importing the scheduler and the
    projector's first batch do not compete with the first paint (P5). ``started["jobs"]`` is
    set when they start; once it is set (even to None, at shutdown) they never start."""
    from PySide6.QtCore import QTimer

    def start() -> None:
        if "jobs" in started:
            return
        started["jobs"] = None
        freeze_start_up_objects()
        try:
            started["jobs"] = _start_jobs(app, bridge)
        except Exception:
            log.exception("background jobs could not start")
            window.status.show_unavailable(
                "The order list will not update by itself (see the log)."
            )

    def soon(*_args: Any) -> None:
        # Not a zero timer: that would run before the rows are painted.
        QTimer.singleShot(JOBS_START_DELAY_MS, start)

    model = window.orders.model
    model.loaded.connect(soon)
    model.load_failed.connect(soon)
    QTimer.singleShot(JOBS_START_FALLBACK_MS, start)


def run(
    argv: Sequence[str] | None = None,
    *,
    show_error: Callable[[str, str], None] | None = None,
    exec_loop: bool = True,
    on_window: Callable[[Any], None] | None = None,
    ask: Callable[[str, str], bool] | None = None,
    switch_to: dict[str, Any] | None = None,
    notice: tuple[bool, str] | None = None,
    choose: Callable[[str, Any], Any] | None = None,
) -> int:
    """``main`` with hooks for tests: ``show_error(title, text)`` replaces the startup message
    box and ``ask(title, text) -> bool`` the start-up question; ``exec_loop=False`` returns
    right after the window is shown and connected to the open database (``on_window(window)``
    is called first) and shuts down. When the clerk opens another database (File menu), the
    loop ends and ``switch_to["db"]`` holds its path: :func:`main` then starts again on it.
    A confirmed restore (Tools menu) also sets ``switch_to["restore"]`` (the backup): the
    database is closed, :func:`switch_database` restores it, and the next run shows
    ``notice`` (ok, text) in the reopened window. A server that cannot be used at start is
    explained by ``choose(text, server) -> location | None`` (tests replace it), which offers
    another server or a file: the choice is opened next, like File ▸ Open."""
    # Start-up allocates tens of thousands of long-lived objects (modules, classes, Qt wrappers,
    # SQLAlchemy's set-up) and makes next to no cycles: the cyclic collector's passes over them
    # are pure cost before the first paint (measured ~30 ms of CPU on P7). It is switched back
    # on by freeze_start_up_objects (after the first rows) or when this run ends.
    gc.disable()
    try:
        return _run(
            argv,
            show_error=show_error,
            exec_loop=exec_loop,
            on_window=on_window,
            ask=ask,
            switch_to=switch_to,
            notice=notice,
            choose=choose,
        )
    finally:
        gc.enable()


def _run(
    argv: Sequence[str] | None = None,
    *,
    show_error: Callable[[str, str], None] | None = None,
    exec_loop: bool = True,
    on_window: Callable[[Any], None] | None = None,
    ask: Callable[[str, str], bool] | None = None,
    switch_to: dict[str, Any] | None = None,
    notice: tuple[bool, str] | None = None,
    choose: Callable[[str, Any], Any] | None = None,
) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    from desktop_app.self_test import handle_cli_flags

    early = handle_cli_flags(args)
    if early is not None:
        return early

    from desktop_app.application.ports import StoreError, StoreInfo
    from desktop_app.config import Settings, default_log_dir
    from desktop_app.ui.errors import ExceptionHook, explain, setup_logging

    settings = Settings.for_location(args.db) if args.db else Settings.default()
    # Small projector batches keep the window smooth while it catches up (P5: no GUI-thread
    # stall > 50 ms); the headless projector and the CLI keep the faster bulk batches.
    settings = dataclasses.replace(settings, projector_batch=200, projector_bulk_catch_up=False)
    if args.read_only:
        settings = dataclasses.replace(settings, read_only=True)
    question = (
        missing_folder_question(settings.db_path) if args.db and not settings.server else None
    )
    if question is not None:
        _qt_app()
        if not (ask or _ask_yes_no)(*question):
            log.info("not creating a database at %s (declined)", settings.db_path)
            return EXIT_OK
    # Open the database (imports of the store, SQLAlchemy, read-model preparation) on a
    # helper thread while the window is built and painted (P5/P7 first paint).
    opener = _Opener(settings)
    opener.start()
    qapp = _qt_app()
    try:
        log_file = setup_logging(settings.log_dir or default_log_dir())
        log.info("Order Desk starting on %s (log %s)", settings.location, log_file)
    except OSError as exc:  # logging must never stop the program
        print(f"logging disabled: {exc}", file=sys.stderr)

    from desktop_app.startup_probe import watch_first_paint
    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner

    show = show_error or _show_startup_error
    window: Any = None
    hook = ExceptionHook(lambda: window)
    hook.install()
    app: App | None = None
    bridge = Bridge()
    tasks = TaskRunner()
    started: dict[str, Jobs | None] = {}
    clean_exit = False
    try:
        provisional = StoreInfo(location=str(settings.location), read_only=settings.read_only)
        window = MainWindow(None, None, bridge, tasks, provisional, opening=True)
        watch_first_paint(window)
        painted = _FirstPaintSeen(window)
        window.show()
        opener.wait(qapp)
        try:
            app = opener.result()
        except StoreError as exc:
            from desktop_app.store.engine import DatabaseOpenError, backup_folder

            window.hide()
            window.deleteLater()
            window = None
            if isinstance(exc, DatabaseOpenError):
                log.error("cannot open %s: %s (%s)", settings.db_path, exc, exc.kind)
                title, text = open_error_message(
                    exc.kind, exc.path, str(exc), backup_folder(exc.path)
                )
                show(title, text)
            else:
                log.error("cannot open %s: %r", settings.location, exc)
                title, text = explain(exc)
                if settings.server is not None:
                    chosen = (choose or _choose_other)(text, settings.server)
                    if chosen is not None and switch_to is not None:
                        switch_to["db"] = chosen
                    return EXIT_OPEN_FAILED
                show("Order Desk cannot open the database", f"{text}\n\nFile: {settings.db_path}")
            return EXIT_OPEN_FAILED

        window.attach_application(app.commands, app.queries, app.info)
        if switch_to is not None:

            def switch(path: Any, _create: bool) -> None:
                switch_to["db"] = path if hasattr(path, "url") else Path(path)
                qapp.quit()

            window.database_requested.connect(switch)

            def restore_from(backup: str) -> None:
                switch_to["db"] = settings.db_path
                switch_to["restore"] = Path(backup)
                qapp.quit()

            window.restore_requested.connect(restore_from)
        window.start()
        _start_jobs_after_first_rows(window, app, bridge, started)
        if app.info.read_only:
            log.warning("opened read-only: %s", app.info.read_only_reason)
        elif not args.no_sample_offer and _is_empty(app):
            window.offer_sample_data(_demo_loader(app))
        if notice is not None:
            _show_notice(window, *notice)
        if on_window is not None:
            on_window(window)
        # The start-up probe quits the event loop at the first paint; when that paint came
        # while the database was still opening, quit() found no loop to leave: stop here.
        probe_done = painted.seen and _probe_enabled()
        rc = qapp.exec() if exec_loop and not probe_done else EXIT_OK
        clean_exit = True
        return int(rc)
    finally:
        try:
            if window is not None:
                window.close()
            started.setdefault("jobs", None)  # a deferred start that has not run: never runs
            jobs = started["jobs"]
            if jobs is not None:
                try:
                    jobs.shutdown(wait=True)
                except Exception:
                    log.exception("stopping background jobs failed")
            tasks.wait_idle(30000)
            qapp.processEvents()  # deliver the last results before the buses go away
            if app is None:  # left early (an error): close what the helper thread opened
                app = opener.take_quietly()
            if app is not None:
                if clean_exit:
                    _anchor_on_exit(app)
                app.close()
                log.info("Order Desk closed")
            if window is not None:
                window.deleteLater()
        finally:
            hook.uninstall()


def _anchor_on_exit(app: App) -> None:
    """R28: a clean exit writes the head of the hash chain outside the database."""
    from desktop_app.store.maintenance import write_anchor

    database, settings = app.database, app.settings
    if database is None or settings is None:  # an app over the in-memory stores
        return
    try:
        log.info("exit anchor: %s", write_anchor(database, settings.anchor_log, "exit"))
    except Exception:  # the user is leaving: say so in the log, never stop the exit
        log.exception("the exit anchor could not be written to %s", settings.anchor_log)


def _probe_enabled() -> bool:
    from desktop_app.startup_probe import enabled

    return enabled()


class _FirstPaintSeen:
    """Notes whether ``widget`` has painted (an event filter that removes itself)."""

    def __init__(self, widget: Any) -> None:
        from PySide6.QtCore import QEvent, QObject

        self.seen = False
        outer = self

        class _Filter(QObject):
            def eventFilter(self, watched: QObject, event: QEvent) -> bool:
                if event.type() == QEvent.Type.Paint:
                    outer.seen = True
                    watched.removeEventFilter(self)
                return False

        self._filter = _Filter(widget)
        widget.installEventFilter(self._filter)


class _Opener:
    """``bootstrap(settings)`` on a helper thread; :meth:`wait` keeps the GUI responsive
    (painting) until it is done, :meth:`result` returns the app or raises its error."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: App | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="open-database", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            from desktop_app.bootstrap import bootstrap

            self._app = bootstrap(self._settings, source="gui")
        except BaseException as exc:  # handed to the GUI thread
            self._error = exc
        finally:
            # Only a threading.Event: this thread never calls into Qt. Posting a wake-up event
            # from here made Qt adopt the thread, and the adopted thread's clean-up at exit
            # (QObject::disconnect, which wants the GIL) deadlocked against the GUI thread
            # holding the GIL inside QObject::connect (seen in the suite).
            self._done.set()

    def wait(self, qapp: Any) -> None:
        """Process GUI events until the database is open (or failed)."""
        from PySide6.QtCore import QEventLoop, QTimer

        if not self._done.is_set():
            # A short timer ends processEvents' wait: the open is noticed within ~10 ms
            # without the helper thread touching Qt (see _run).
            tick = QTimer()
            tick.start(10)
            while not self._done.is_set():
                qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
            tick.stop()
        self._thread.join()

    def take_quietly(self) -> App | None:
        """The app when the database was opened, else None (any error was reported)."""
        self._done.wait()
        self._thread.join()
        app, self._app = self._app, None
        return app

    def result(self) -> App:
        self._done.wait()
        self._thread.join()
        if self._error is not None:
            raise self._error
        app, self._app = self._app, None
        assert app is not None  # no error: bootstrap returned it
        return app


def _choose_other(text: str, server: Any) -> Any:
    """The unreachable-server box with its choices (another server, a file, quit)."""
    from desktop_app.ui.connect_dialog import choose_other_database

    return choose_other_database(text, server)


def _show_notice(window: Any, ok: bool, text: str) -> None:
    """What happened between two runs (a restore), in the reopened window."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Information if ok else QMessageBox.Icon.Critical,
        "Restore from backup",
        text,
        QMessageBox.StandardButton.Ok,
        window,
    )
    box.setObjectName("restoreResult")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def switch_database(args: list[str], switch_to: dict[str, Any]) -> tuple[list[str], Any]:
    """The arguments of the next run and its notice, after the window asked for another
    database or a restore (done here: the database is closed now)."""
    db = switch_to["db"]
    notice = None
    backup = switch_to.get("restore")
    if backup is not None:
        from desktop_app.bootstrap import restore_backup
        from desktop_app.config import Settings

        report = restore_backup(Path(backup), db, Settings.default(db).anchor_log)
        log.info("restore of %s from %s: %s", db, backup, report.text)
        notice = (report.ok, report.text)
    return with_db(args, db), notice


def main(argv: Sequence[str] | None = None) -> int:
    """Start Order Desk; returns the process exit code. Opening another database from the
    File menu closes this one cleanly and starts again on the other; a restore closes it,
    restores it and opens it again."""
    args = list(argv) if argv is not None else sys.argv[1:]
    notice = None
    while True:
        switch_to: dict[str, Any] = {}
        rc = run(args, switch_to=switch_to, notice=notice)
        if "db" not in switch_to:
            return rc
        args, notice = switch_database(args, switch_to)


if __name__ == "__main__":
    sys.exit(main())
