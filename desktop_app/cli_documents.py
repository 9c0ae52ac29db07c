"""Paper and files from the admin CLI: ``export-orders`` (CSV) and ``print-order`` (PDF).

``print-order`` needs Qt for fonts and the PDF writer; it is imported only when asked, and runs
on Qt's offscreen platform when there is no display, so it works in batch jobs and over SSH.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from desktop_app.application.export import ExportCancelled, export_orders_csv
from desktop_app.application.queries import (
    ORDER_SORT_COLUMNS,
    FindOrderByNumber,
    GetOrder,
    ListCustomers,
    ListOrders,
    OrderDetail,
)
from desktop_app.application.read_handlers import InvalidQueryError
from desktop_app.cli_support import (
    EXIT_OK,
    PROG,
    CliError,
    open_app,
    order_number_candidates,
    progress_line,
)
from desktop_app.config import CompanyProfileError, load_company_profile
from desktop_app.domain.order import OrderStatus

if TYPE_CHECKING:
    from desktop_app.bootstrap import App


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[App]:
    with open_app(args.db, read_only=True) as app:
        yield app


def _fresh_note(app: App) -> str | None:
    """A warning when the read model (what lists and documents show) is behind the log."""
    projector = app.projector
    if projector is None:
        return None
    status = projector.status()
    if status.lag > 0:
        return (
            f"note: the order lists are {status.lag:,} events behind the log (checkpoint "
            f"#{status.checkpoint}); open Order Desk or run `{PROG} rebuild` to bring them up "
            "to date"
        )
    return None


# --- export-orders -------------------------------------------------------------------------


def _customer_id(app: App, name: str) -> str:
    rows = app.queries.ask(ListCustomers(search=name, limit=50))
    exact = [r for r in rows if r.name.casefold() == name.strip().casefold()]
    matches = exact or rows
    if not matches:
        raise CliError(f"no customer matches {name!r}")
    if len(matches) > 1:
        names = ", ".join(sorted({r.name for r in matches})[:5])
        raise CliError(f"{len(matches)} customers match {name!r} ({names}); be more exact")
    return matches[0].customer_id


def list_query(app: App, args: argparse.Namespace) -> ListOrders:
    """The ``ListOrders`` query that the export options describe."""
    statuses = frozenset(args.status) if args.status else None
    customer = _customer_id(app, args.customer) if args.customer else None
    return ListOrders(
        statuses=statuses,
        customer_id=customer,
        search=args.search or None,
        sort=args.sort,
        descending=not args.ascending,
        date_column="updated_at" if args.date == "changed" else "placed_at",
        date_from=_day_start(args.since, "--since"),
        date_to=_day_start(args.until, "--until", next_day=True),
    )


def _day_start(text: str | None, option: str, *, next_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` as the start of that local day (of the next day for an inclusive end)."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"{option} wants a date like 2026-12-31, not {text!r}") from exc
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, time()).astimezone()


def _open_out(path: Path | None) -> tuple[TextIO, Path | None]:
    if path is None or str(path) == "-":
        return sys.stdout, None
    if not path.absolute().parent.is_dir():
        raise CliError(f"the folder {path.absolute().parent} does not exist")
    temp = path.with_name(f".{path.name}.part")
    return open(temp, "w", encoding="utf-8", newline=""), temp


def cmd_export_orders(args: argparse.Namespace) -> int:
    """Write the order list (filters applied) as CSV."""
    with _opened(args) as app:
        note = _fresh_note(app)
        query = list_query(app, args)
        out, temp = _open_out(args.out)
        progress = progress_line("Exporting", sys.stderr, always=temp is not None)

        try:
            rows = export_orders_csv(app.queries.ask, query, out, bom=args.bom, progress=progress)
        except (ExportCancelled, KeyboardInterrupt, OSError, InvalidQueryError):
            if temp is not None:
                out.close()
                temp.unlink(missing_ok=True)
            raise
        if temp is not None:
            out.flush()
            os.fsync(out.fileno())
            out.close()
            temp.replace(args.out)
    if note:
        print(note, file=sys.stderr)
    if temp is not None:
        print(f"Exported {rows:,} orders to {args.out}")
    return EXIT_OK


# --- print-order ---------------------------------------------------------------------------


def _qt_gui() -> Any:
    """A ``QGuiApplication`` (offscreen without a display) for fonts and the PDF writer."""
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication(sys.argv[:1])


def _order_detail(app: App, ref: str) -> OrderDetail:
    """An order's header and lines by number (SO-000123, so-123) or id, from the read model."""
    ref = ref.strip()
    numbers = order_number_candidates(ref)
    if numbers:
        rows = (app.queries.ask(FindOrderByNumber(order_number=n)) for n in numbers)
        row = next((r for r in rows if r is not None), None)
        if row is None:
            raise CliError(f"no order with number {numbers[-1]} in the order lists")
        order_id = row.order_id
    else:
        order_id = ref.removeprefix("order-")
    detail = app.queries.ask(GetOrder(order_id=order_id)) if order_id else None
    if detail is None:
        raise CliError(
            f"no order {ref} in the order lists (if it was placed just now, open Order Desk "
            f"or run `{PROG} rebuild` first)"
        )
    return detail


def cmd_print_order(args: argparse.Namespace) -> int:
    """Render an order confirmation or a packing slip to a PDF file."""
    try:
        company = load_company_profile(args.company)
    except CompanyProfileError as exc:
        raise CliError(str(exc)) from exc
    if not args.out.absolute().parent.is_dir():
        raise CliError(f"the folder {args.out.absolute().parent} does not exist")
    with _opened(args) as app:
        detail = _order_detail(app, args.order)
        note = _fresh_note(app)
        from desktop_app.ui.printing.documents import ship_to_of

        ship_to = ship_to_of(app.queries, detail.order.order_id)
    _qt_gui()
    from desktop_app.ui.printing.documents import DocumentKind, build_document, write_pdf

    kind = DocumentKind(args.kind)
    doc = build_document(detail, kind, company, printed_at=datetime.now(UTC), ship_to=ship_to)
    write_pdf(doc, args.out, title=f"{kind.heading} {detail.order.order_number}")
    if note:
        print(note, file=sys.stderr)
    print(f"Wrote the {kind.heading.lower()} of {detail.order.order_number} to {args.out}")
    return EXIT_OK


# --- registration --------------------------------------------------------------------------


def _handled(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(handler(args))
        except (InvalidQueryError, CompanyProfileError) as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise CliError(f"{exc.strerror or exc}{where}") from exc

    return run


def add_document_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add ``export-orders`` and ``print-order`` to the admin CLI."""
    export = sub.add_parser(
        "export-orders", parents=[common], help="write the order list as CSV (filters apply)"
    )
    export.add_argument("--out", type=Path, metavar="FILE", help="CSV file (default: stdout)")
    export.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in OrderStatus],
        help="only orders with this status (repeat for several)",
    )
    export.add_argument("--customer", metavar="NAME", help="only this customer's orders")
    export.add_argument("--search", metavar="TEXT", help="order number, customer or SKU contains")
    export.add_argument(
        "--sort", choices=ORDER_SORT_COLUMNS, default="placed_at", help="sort column (placed_at)"
    )
    export.add_argument("--ascending", action="store_true", help="oldest / smallest first")
    export.add_argument(
        "--date",
        choices=["placed", "changed"],
        default="placed",
        help="which date --since/--until bound: when placed (default) or last changed",
    )
    export.add_argument("--since", metavar="YYYY-MM-DD", help="from this day (local time)")
    export.add_argument("--until", metavar="YYYY-MM-DD", help="up to and including this day")
    export.add_argument(
        "--bom", action="store_true", help="start with a UTF-8 byte-order mark (for Excel)"
    )
    export.set_defaults(run=_handled(cmd_export_orders))

    print_ = sub.add_parser(
        "print-order", parents=[common], help="an order confirmation or packing slip as PDF"
    )
    print_.add_argument("order", metavar="ORDER", help="order id or number (SO-000123)")
    print_.add_argument("--out", type=Path, required=True, metavar="FILE.pdf")
    print_.add_argument(
        "--kind",
        choices=["confirmation", "packing-slip"],
        default="confirmation",
        help="which document (confirmation)",
    )
    print_.add_argument(
        "--company",
        type=Path,
        default=None,
        metavar="FILE",
        help="company details JSON (default: the one saved in Order Desk's settings)",
    )
    print_.set_defaults(run=_handled(cmd_print_order))
