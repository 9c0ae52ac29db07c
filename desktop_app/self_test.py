"""``desktop-app --self-test``: prove that this build of Order Desk works, end to end.

It opens a fresh database in a temporary folder, runs a full order life cycle through the
command bus (register a customer and two products; place, extend, confirm, ship and deliver
one order; place and cancel another), lets the background projector catch up, checks the order
list, renders the main window offscreen (and checks that no part of it is missing from the
build), verifies the hash chain, prints ONE line and returns the exit code::

    self-test OK: 11 events, chain verified, 2 orders listed, window 1280x800, 0.84 s
    self-test FAILED: <reason>

It is what CI runs against the packaged bundle (``dist/OrderDesk/OrderDesk --self-test``), so a
bundle with a missing module, Qt plugin or resource cannot land. Also here: ``--version``.
Nothing runs at import time, and Qt is imported only when a check needs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from desktop_app.application.buses import CommandBus, QueryBus

EXIT_OK = 0
EXIT_FAILED = 1

WAIT_SECONDS = 20.0
"""How long the projector and the window's first loads may take (a busy 2-core CI machine)."""


class SelfTestError(Exception):
    """A check failed; the message is the reason printed after ``self-test FAILED:``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SelfTestResult:
    """What a passing self-test saw."""

    events: int
    orders: int
    window_width: int
    window_height: int
    seconds: float
    server: str | None = None
    """The server checked (``--db postgresql://…``), shown without a password; None: the
    self-test's own temporary file."""

    def line(self) -> str:
        """The one line printed on success."""
        where = f" on {self.server} (read only)" if self.server else ""
        return (
            f"self-test OK{where}: {self.events} events, chain verified, {self.orders} orders "
            f"listed, window {self.window_width}x{self.window_height}, {self.seconds:.2f} s"
        )


# --- version ---------------------------------------------------------------------------------


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def version_text() -> str:
    """``Order Desk 0.1.0 (Python 3.11.7, Qt 6.12.0, PySide6 6.12.0, linux, frozen)``."""
    from desktop_app.identity import app_version

    parts = [f"Python {sys.version.split()[0]}"]
    try:
        import PySide6
        from PySide6.QtCore import qVersion

        parts += [f"Qt {qVersion()}", f"PySide6 {PySide6.__version__}"]
    except ImportError:  # pragma: no cover - a build without Qt is already broken
        parts.append("Qt missing")
    parts += [sys.platform, "frozen" if is_frozen() else "from source"]
    return f"Order Desk {app_version()} ({', '.join(parts)})"


class _VersionAction(argparse.Action):
    """``--version``: computed only when asked (it imports Qt for the Qt version)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> NoReturn:
        _emit(version_text())
        parser.exit(EXIT_OK)


# --- command-line hooks for desktop_app.__main__ ---------------------------------------------


def add_cli_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--version``, ``--self-test`` and ``--self-test-keep`` to the GUI's parser."""
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation on a temporary database, print one line and exit "
        "(0: it works)",
    )
    parser.add_argument(
        "--self-test-keep",
        action="store_true",
        help=argparse.SUPPRESS,  # keep the self-test's temporary folder for a post-mortem
    )


def handle_cli_flags(args: argparse.Namespace) -> int | None:
    """The exit code when a flag added by :func:`add_cli_flags` has done the work (the caller
    returns it without starting the GUI); None to go on normally."""
    if getattr(args, "self_test", False):
        return run_self_test(
            keep=bool(getattr(args, "self_test_keep", False)), server=_server_of(args)
        )
    return None


def _server_of(args: argparse.Namespace) -> str | None:
    """``--db``'s server URL when it names one (the self-test then checks that server, read
    only); None for a file or no ``--db`` (the self-test's own temporary file)."""
    from desktop_app.config import ServerLocation, parse_location

    db = getattr(args, "db", None)  # argparse's namespace: absent when no parser added it
    if isinstance(db, str):
        try:
            db = parse_location(db)
        except ValueError:
            return None  # not a URL: the GUI's own parser reports a bad --db
    return db.url if isinstance(db, ServerLocation) else None


def early_exit(argv: Sequence[str]) -> int | None:
    """Handle ``--version`` / ``--self-test`` in ``argv`` before the GUI's own parser runs
    (the packaged launcher does this, so the bundle has both flags whatever ``__main__``
    offers); None when neither is there. Other arguments are left alone."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_cli_flags(parser)
    parser.add_argument("--db", default=None)  # a server URL makes the self-test check it
    args, _ = parser.parse_known_args(list(argv))
    return handle_cli_flags(args)


# --- the self-test ---------------------------------------------------------------------------


def run_self_test(*, keep: bool = False, server: str | None = None) -> int:
    """Run every check, print one line (``self-test OK: …`` or ``self-test FAILED: …``) and
    return the exit code. ``keep`` leaves the temporary folder (and says where). With
    ``server`` (a ``postgresql://`` URL) the checks run on that shared desk, read only: a
    self-test never writes test orders into an office's history."""
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="order-desk-self-test-"))
    try:
        result = _run_on_server(server, folder, started) if server else _run(folder, started)
    except Exception as exc:  # every failure becomes the one line, never a traceback
        reason = str(exc) if isinstance(exc, SelfTestError) else f"{type(exc).__name__}: {exc}"
        line, code = f"self-test FAILED: {reason}", EXIT_FAILED
    else:
        line, code = result.line(), EXIT_OK
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if keep:
        line += f" (kept {folder})"
    _emit(line)
    return code


def _emit(line: str) -> None:
    # A windowed Windows build has no stdout; the exit code still tells.
    stream = sys.stdout if sys.stdout is not None else sys.stderr
    if stream is not None:
        print(line, file=stream, flush=True)


def _check(condition: bool, reason: str) -> None:
    if not condition:
        raise SelfTestError(reason)


def _run(folder: Path, started: float) -> SelfTestResult:
    from desktop_app import resources

    try:
        resources.style_sheet()
        resources.icon_png()
    except OSError as exc:
        raise SelfTestError(f"resources: {exc}") from exc

    qapp, created = _qt_application()
    if created:
        resources.apply_to(qapp)

    from desktop_app.application.audit import verify_history
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.jobs import build_jobs

    settings = Settings(
        db_path=folder / "orders.sqlite3",
        backup_dir=folder / "backups",
        log_dir=folder / "logs",
        key_dir=folder / "keys",  # a throwaway database: its snapshot key goes with it
    )
    app = bootstrap(settings, source="self-test")
    jobs: Any = None
    try:
        projector = app.projector
        _check(projector is not None, "the application has no projector")
        assert projector is not None
        jobs = build_jobs(app, backups=False)
        jobs.start()  # the real scheduler: the projector catches up in the background

        delivered, cancelled, position = _order_life_cycle(app.commands)
        _check(
            projector.wait_until(position, WAIT_SECONDS),
            f"the projector did not reach position {position} within {WAIT_SECONDS:.0f} s "
            f"({projector.status})",
        )
        orders = _check_order_list(app.queries, delivered, cancelled)
        width, height = _render_main_window(qapp, app, folder)
        _print_confirmation(app, delivered, folder)

        jobs.shutdown(wait=True)
        jobs = None
        verified = verify_history(app.events, app.snapshots)
        _check(
            verified.ok,
            f"verify failed at position {verified.first_bad_position}: {verified.problem or ''}"
            + "; ".join(f.describe() for f in verified.findings[:3]),
        )
        _check(
            verified.checked == position,
            f"verify checked {verified.checked} events, the log has {position}",
        )
        return SelfTestResult(
            events=verified.checked,
            orders=orders,
            window_width=width,
            window_height=height,
            seconds=time.perf_counter() - started,
        )
    finally:
        if jobs is not None:
            jobs.shutdown(wait=True)
        app.close()


def _run_on_server(url: str, folder: Path, started: float) -> SelfTestResult:
    """The checks on a shared desk, read only: the server answers with an Order Desk database
    of a known version whose append-only triggers hold, the whole hash chain verifies, the
    order list answers and the main window renders it."""
    from desktop_app import resources
    from desktop_app.application import queries as q
    from desktop_app.application.audit import verify_history
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import ServerLocation, Settings

    try:
        resources.style_sheet()
        resources.icon_png()
    except OSError as exc:
        raise SelfTestError(f"resources: {exc}") from exc
    qapp, created = _qt_application()
    if created:
        resources.apply_to(qapp)
    location = ServerLocation(url)
    settings = Settings.for_location(
        location, read_only=True, log_dir=folder / "logs", key_dir=folder / "keys"
    )
    app = bootstrap(settings, source="self-test")
    try:
        triggers = str(app.info.details.get("append_only_triggers", "intact"))
        _check(triggers == "intact", f"the server's append-only triggers are {triggers}")
        verified = verify_history(app.events, app.snapshots, chain_only=True)
        _check(
            verified.ok,
            f"verify failed at position {verified.first_bad_position}: {verified.problem or ''}"
            + "; ".join(f.describe() for f in verified.findings[:3]),
        )
        page = app.queries.ask(q.ListOrders(with_total=True))
        total = page.total if page.total is not None else len(page.rows)
        width, height = _render_main_window(qapp, app, folder, rows=len(page.rows))
        return SelfTestResult(
            events=verified.checked,
            orders=total,
            window_width=width,
            window_height=height,
            seconds=time.perf_counter() - started,
            server=location.display,
        )
    finally:
        app.close()


def _qt_application() -> tuple[Any, bool]:
    """The running QApplication, or a new one on the offscreen platform; True if new."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    existing = QCoreApplication.instance()
    if existing is not None:
        _check(isinstance(existing, QApplication), "a QCoreApplication without widgets runs")
        return existing, False
    # Offscreen even on a desktop: the check must not flash a window or need a display.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    QApplication.setApplicationName("Order Desk self-test")
    QApplication.setOrganizationName("OrderDesk")
    return QApplication(sys.argv[:1]), True


def _order_life_cycle(commands: CommandBus) -> tuple[str, str, int]:
    """Place one order through to delivery and cancel another; (delivered id, cancelled id,
    position of the last event)."""
    from desktop_app.application import commands as c

    def send(command: c.Command) -> c.CommandResult:
        result: c.CommandResult = commands.dispatch(command)
        _check(not result.duplicate, f"{type(command).__name__} was treated as a duplicate")
        return result

    customer = send(c.RegisterCustomer(name="Self-Test Customer Ltd")).aggregate_id
    mug = send(
        c.AddProduct(sku="SELFTEST-MUG", name="Test Mug", price=Decimal("12.50"), currency="EUR")
    ).aggregate_id
    pen = send(
        c.AddProduct(sku="SELFTEST-PEN", name="Test Pen", price=Decimal("4.75"), currency="EUR")
    ).aggregate_id

    order = send(
        c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=mug, quantity=2),))
    ).aggregate_id
    send(c.AddOrderLine(order_id=order, line=c.LineInput(product_id=pen, quantity=1)))
    send(c.ConfirmOrder(order_id=order))
    send(c.ShipOrder(order_id=order, tracking_number="SELFTEST-0001", carrier="DHL"))
    send(c.DeliverOrder(order_id=order))

    other = send(
        c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=pen, quantity=3),))
    ).aggregate_id
    last = send(c.CancelOrder(order_id=other, reason="Self-test: cancelled on purpose."))
    return order, other, last.position


def _check_order_list(queries: QueryBus, delivered: str, cancelled: str) -> int:
    """ListOrders shows both orders with the right status and total; returns the count."""
    from desktop_app.application import queries as q

    page = queries.ask(q.ListOrders(with_total=True))
    rows = {row.order_id: row for row in page.rows}
    _check(page.total == 2 and len(rows) == 2, f"ListOrders found {page.total} orders, not 2")
    expected = {delivered: ("delivered", 2 * 1250 + 475), cancelled: ("cancelled", 3 * 475)}
    for order_id, (status, total) in expected.items():
        row = rows.get(order_id)
        _check(row is not None, f"order {order_id} is missing from the order list")
        assert row is not None
        _check(row.status == status, f"{row.order_number} is {row.status!r}, not {status!r}")
        _check(
            row.total_minor == total and row.currency == "EUR",
            f"{row.order_number} totals {row.total_minor} {row.currency}, not {total} EUR",
        )
    return len(rows)


def _render_main_window(qapp: Any, app: Any, folder: Path, rows: int = 2) -> tuple[int, int]:
    """Build the main window as ``__main__`` does, let it load the list (``rows`` rows on its
    first page), grab a pixmap; returns its size."""
    from PySide6.QtCore import QSettings

    from desktop_app.ui.bridge import Bridge
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.tasks import TaskRunner

    bridge = Bridge()
    tasks = TaskRunner()
    # Its own settings file: the clerk's saved window layout is neither read nor written.
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
    try:
        window.show()
        window.start()
        model = window.orders.model
        _pump(qapp, lambda: tasks.pending() == 0 and model.rowCount() == rows)
        _check(
            model.rowCount() == rows,
            f"the main window's order list shows {model.rowCount()} rows, not {rows}",
        )
        # History and Snapshots are built on first use: build them now, so a module left
        # out of this build fails here and not when a clerk first opens the tab.
        try:
            _ = window.history, window.snapshots
        except ImportError as exc:
            raise SelfTestError(f"missing from this build: {exc.name or exc}") from exc
        pixmap = window.grab()
        _check(not pixmap.isNull(), "the main window rendered to a null pixmap")
        image = pixmap.toImage()
        _check(image.width() > 0 and image.height() > 0, "the main window rendered empty")
        return pixmap.width(), pixmap.height()
    finally:
        window.close()
        tasks.wait_idle(int(WAIT_SECONDS * 1000))
        qapp.processEvents()
        window.deleteLater()
        qapp.processEvents()


def _print_confirmation(app: Any, order_id: str, folder: Path) -> None:
    """An order confirmation to PDF, and the print preview dialog built (print support and
    the PDF writer are in this build)."""
    from datetime import UTC, datetime

    from desktop_app.application.queries import GetOrder
    from desktop_app.config import CompanyProfile
    from desktop_app.ui.printing.documents import DocumentKind, build_document, write_pdf
    from desktop_app.ui.printing.preview import preview_dialog

    detail = app.queries.ask(GetOrder(order_id=order_id))
    _check(detail is not None, "the delivered order is not in the read model")
    profile = CompanyProfile(name="Self-test")
    doc = build_document(detail, DocumentKind.CONFIRMATION, profile, printed_at=datetime.now(UTC))
    target = folder / "confirmation.pdf"
    write_pdf(doc, target, title="self-test")
    _check(target.read_bytes().startswith(b"%PDF-"), "the order confirmation PDF is not a PDF")
    dialog = preview_dialog(None, detail, DocumentKind.PACKING_SLIP, profile)
    dialog.deleteLater()


def _pump(qapp: Any, done: Callable[[], bool]) -> None:
    """Process Qt events until ``done()`` holds or the wait runs out."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not done() and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.005)
    qapp.processEvents()
