"""P5 helper: an Order Desk file whose READ MODEL holds 1,000,000 orders.

Generating 5M+ events through the bus would take far too long, so the file is built in steps:

1. a real database (``bootstrap``), the sample catalog and a few hundred real orders through the
   command bus (``load_demo``), a few hundred more customers, and one order of 10,000 events
   (``Repository.save`` in batches, like P2) — all projected by the real projector;
2. **synthetic read-model rows inserted directly** into ``rm_orders`` (and ``rm_order_lines`` for
   a fraction of them) with ``executemany`` in big transactions, in the exact column formats the
   projector writes (ids, folds, ISO-8601 UTC text with ``Z``, minor units), list indexes dropped
   first and rebuilt afterwards (``begin_bulk`` / ``end_bulk``, which also run ANALYZE);
3. the checkpoint stays at the head of the event log (every real event is projected; the
   synthetic rows have no events), the order-number sequence continues after them, and the
   customers' ``order_count`` matches.

The synthetic orders therefore have no history: only the real ones (and the 10,000-event order)
can be opened in the history timeline.
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.harness import log

EXTRA_CUSTOMERS = 460
LONG_ORDER_LINES = 100
SAVE_BATCH = 500
CHUNK = 100_000
LINE_FRACTION = 0.25
"""Share of synthetic orders that also get ``rm_order_lines`` rows (search by SKU finds them)."""

# Roughly what a year of real trading leaves behind.
STATUS_WEIGHTS = (
    ("pending", 0.06),
    ("confirmed", 0.10),
    ("shipped", 0.14),
    ("delivered", 0.62),
    ("cancelled", 0.08),
)
CARRIERS = ("DHL", "DPD", "GLS", "UPS", "PostNL")

_INSERT_ORDER = """INSERT INTO rm_orders (order_id, order_number, number_fold, customer_id,
    customer_name, customer_fold, status, line_count, total_minor, currency, placed_at,
    updated_at, version, last_position, tracking_number, carrier, cancel_reason)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_INSERT_LINE = """INSERT INTO rm_order_lines (order_id, line_id, product_id, sku, sku_fold,
    product_name, quantity, unit_price_minor, line_total_minor, currency, seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


@dataclass(frozen=True, slots=True)
class BuiltDatabase:
    """What the children need to know about the built file."""

    path: Path
    orders: int
    synthetic_orders: int
    synthetic_lines: int
    real_orders: int
    long_order_id: str
    long_order_events: int
    head_position: int
    seconds: float


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _long_order(app: Any, events: int) -> str:
    """One order of ``events`` events through ``Repository.save`` (500 per transaction)."""
    from desktop_app.application import commands as c
    from desktop_app.application.ports import EventMetadata
    from desktop_app.domain.order import NewLine

    dispatch = app.commands.dispatch
    customer = dispatch(c.RegisterCustomer(name="Long History Trading Ltd")).aggregate_id
    product_ids = [
        dispatch(
            c.AddProduct(
                sku=f"LONG-{p:03d}",
                name=f"Long-history item {p}",
                price=Decimal(f"{p + 3}.25"),
                currency="EUR",
            )
        ).aggregate_id
        for p in range(4)
    ]
    products = [app.deps.products.load(p).as_ref() for p in product_ids]
    order_id = str(uuid.uuid4())
    dispatch(
        c.PlaceOrder(
            customer_id=customer,
            lines=(c.LineInput(product_id=product_ids[0], quantity=1),),
            order_id=order_id,
        )
    )
    repo = app.deps.orders
    order = repo.load(order_id)
    line_ids = [order.lines[0].line_id]
    saved = order.version

    def save() -> None:
        nonlocal saved
        command = str(uuid.uuid4())
        metadata = EventMetadata(
            correlation_id=command,
            causation_id=command,
            user="bench",
            host="bench-host",
            app_version="0.1.0",
            source="bench",
        )
        repo.save(order, expected_version=saved, metadata=metadata, command_id=None)
        saved = order.version

    n = 0
    while order.version < events:
        if n < LONG_ORDER_LINES - 1:
            line_id = str(uuid.uuid4())
            line_ids.append(line_id)
            order.add_line(NewLine(line_id=line_id, product=products[n % 4], quantity=1))
        else:
            k = n - (LONG_ORDER_LINES - 1)
            order.change_quantity(line_ids[k % LONG_ORDER_LINES], 2 + (k // LONG_ORDER_LINES) % 2)
        n += 1
        if order.version - saved >= SAVE_BATCH:
            save()
    if order.version != saved:
        save()
    return order_id


def _real_part(path: Path, long_events: int) -> tuple[str, int]:
    """Catalog, real orders and the long order through the bus; returns (long id, real orders)."""
    from desktop_app.application import commands as c
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.demo_data import load_demo

    app = bootstrap(Settings(db_path=path, synchronous="NORMAL"), source="bench")
    try:
        summary = load_demo(app.commands, orders=300, seed=7, queries=app.queries)
        rnd = random.Random(11)
        towns = ("Leeds", "Graz", "Turku", "Gent", "Porto", "Brno", "Cork", "Lyon", "Kraków")
        kinds = ("Handel", "Trading", "Supplies", "Bistro", "Studio", "Werkstatt", "& Søn")
        for i in range(EXTRA_CUSTOMERS):
            name = f"{rnd.choice(towns)} {rnd.choice(kinds)} {i + 1:03d}"
            app.commands.dispatch(c.RegisterCustomer(name=name))
        long_id = _long_order(app, long_events)
        if app.projector is None:
            raise RuntimeError("this build has no projector")
        app.projector.run_once()
        return long_id, int(summary.orders) + 1
    finally:
        app.close()


def _with_read_model(path: Path) -> sqlite3.Connection:
    """The event file with its read model's own file attached (unqualified ``rm_*`` names
    resolve there), both with ``synchronous = OFF`` and a big cache (a builder)."""
    from desktop_app.store.read_model_file import read_model_path

    con = sqlite3.connect(path, isolation_level=None)
    con.execute("ATTACH DATABASE ? AS rm", (str(read_model_path(path)),))
    for schema in ("main", "rm"):
        con.execute(f"PRAGMA {schema}.synchronous = OFF")
        con.execute(f"PRAGMA {schema}.cache_size = -262144")
    return con


def _synthetic_rows(
    con: sqlite3.Connection, count: int, first_number: int, head: int, seed: int
) -> int:
    """Insert ``count`` synthetic orders (and some lines); returns the number of lines."""
    rnd = random.Random(seed)
    customers = con.execute("SELECT customer_id, name, name_fold FROM rm_customers").fetchall()
    products = con.execute(
        "SELECT product_id, sku, sku_fold, name, price_minor FROM rm_products "
        "WHERE discontinued = 0"
    ).fetchall()
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    end = datetime(2026, 1, 1, tzinfo=UTC)
    start = end - timedelta(days=3 * 365)
    span_us = int((end - start).total_seconds() * 1_000_000)
    step_us = span_us // max(count, 1)
    getbits = rnd.getrandbits
    new_uuid = uuid.UUID
    lines_total = 0
    written = 0
    while written < count:
        n = min(CHUNK, count - written)
        orders: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        for i in range(written, written + n):
            order_id = str(new_uuid(int=getbits(128), version=4))
            number = f"SO-{first_number + i:06d}"
            cid, cname, cfold = customers[getbits(30) % len(customers)]
            status = rnd.choices(statuses, weights)[0]
            placed = start + timedelta(microseconds=i * step_us + getbits(16))
            updated = placed + timedelta(seconds=getbits(20))
            line_count = 1 + getbits(8) % 5
            version = 1 + line_count
            tracking = carrier = reason = None
            if status != "pending" and status != "cancelled":
                version += 1
            if status in ("shipped", "delivered"):
                version += 1
                tracking = f"TRK{getbits(30):010d}"
                carrier = CARRIERS[getbits(8) % len(CARRIERS)]
            if status == "delivered":
                version += 1
            if status == "cancelled":
                version += 1
                reason = "customer asked"
            total = 0
            with_lines = rnd.random() < LINE_FRACTION
            for seq in range(line_count):
                pid, sku, sku_fold, pname, price = products[getbits(30) % len(products)]
                quantity = 1 + getbits(4) % 9
                total += quantity * price
                if with_lines:
                    line_id = str(new_uuid(int=getbits(128), version=4))
                    lines.append(
                        (
                            order_id,
                            line_id,
                            pid,
                            sku,
                            sku_fold,
                            pname,
                            quantity,
                            price,
                            quantity * price,
                            "EUR",
                            head + seq,
                        )
                    )
            orders.append(
                (
                    order_id,
                    number,
                    number.casefold(),
                    cid,
                    cname,
                    cfold,
                    status,
                    line_count,
                    total,
                    "EUR",
                    _iso(placed),
                    _iso(updated),
                    version,
                    1 + getbits(30) % max(head, 1),
                    tracking,
                    carrier,
                    reason,
                )
            )
        orders.sort()
        lines.sort()
        con.execute("BEGIN")
        con.executemany(_INSERT_ORDER, orders)
        con.executemany(_INSERT_LINE, lines)
        con.execute("COMMIT")
        written += n
        lines_total += len(lines)
        log(f"  P5 build: {written:,} synthetic read-model orders inserted")
    return lines_total


def build(path: Path, orders: int, long_events: int = 10_000) -> BuiltDatabase:
    """Build the P5 file at ``path`` with ``orders`` orders in the read model."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    started = time.perf_counter()
    long_id, real_orders = _real_part(path, long_events)
    log(f"  P5 build: real part done ({time.perf_counter() - started:.1f} s)")
    synthetic = max(0, orders - real_orders)
    con = _with_read_model(path)
    try:
        head = int(con.execute("SELECT max(position) FROM events").fetchone()[0])
        checkpoint = int(con.execute("SELECT max(position) FROM rm_checkpoints").fetchone()[0])
        if checkpoint != head:
            raise RuntimeError(f"projector at {checkpoint}, log at {head}")
        row = con.execute("SELECT value FROM sequences WHERE name = 'order-number'").fetchone()
        first_number = int(row[0]) + 1000 if row else 1000
    finally:
        con.close()

    app = bootstrap(Settings(db_path=path, synchronous="NORMAL"), source="bench")
    try:
        store = app.read_model.target if app.read_model is not None else None
        if store is None:
            raise RuntimeError("this build has no read model")
        if not store.claim("p5-build"):  # the one writer of the read model (R33)
            raise RuntimeError("another process projects into this file's read model")
        store.begin_bulk()  # drop the list indexes; end_bulk rebuilds them + ANALYZE
        con = _with_read_model(path)
        try:
            lines = _synthetic_rows(con, synthetic, first_number, head, seed=5)
            con.execute("BEGIN")
            con.execute(
                "UPDATE rm_customers SET order_count = (SELECT count(*) FROM rm_orders AS o "
                "WHERE o.customer_id = rm_customers.customer_id)"
            )
            con.execute(
                "UPDATE sequences SET value = ? WHERE name = 'order-number'",
                (first_number + synthetic,),
            )
            con.execute("COMMIT")
        finally:
            con.close()
        log("  P5 build: rebuilding list indexes + ANALYZE")
        store.end_bulk()
    finally:
        app.close()
    con = _with_read_model(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        total = int(con.execute("SELECT count(*) FROM rm_orders").fetchone()[0])
    finally:
        con.close()
    return BuiltDatabase(
        path=path,
        orders=total,
        synthetic_orders=synthetic,
        synthetic_lines=lines,
        real_orders=real_orders,
        long_order_id=long_id,
        long_order_events=long_events,
        head_position=head,
        seconds=time.perf_counter() - started,
    )
