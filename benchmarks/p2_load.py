"""P2 — load a 10,000-event order.

(a) the project without a snapshot (``snapshot_interval=0``, ``app.deps.orders.load``) beside
    raw sqlite3 (fetch + ``json.loads`` + fold into a dict);
(b) the project with the snapshot policy on (interval 50) beside eventsourcing's snapshot load
    (``snapshotting_intervals`` = 50, ``repository.get``).

The order: placed with one line, 99 more lines, then quantity changes up to N events. Each
contender builds its own file once per run (not timed), at ``synchronous=NORMAL`` (loads only
read). Building goes through each contender's own write path in batches of 500 events per
transaction: for the project ``Repository.save`` (the bus would cost one transaction per event,
and without snapshots every command would replay the whole growing stream). For (b) both files
hold a snapshot ``tail`` events before the end (10,000 - 50 = 9,950, a point the interval-50
policy of either library would have chosen), so both loads read one snapshot + 50 events.

Each round the contenders' loads alternate (A B A B …, ``reps`` each); a contender's figure for
the round is the median of its loads in ms.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from benchmarks import es_baseline, raw_sqlite
from benchmarks.harness import BenchResult, Contender, Goal, Ratio, Section, clock, log

LINES = 100
BATCH = 500
SNAPSHOT_TAIL = 50
SNAPSHOT_REPS_FACTOR = 10
BUILD_SYNCHRONOUS: Literal["FULL", "NORMAL"] = "NORMAL"


def plan(events: int) -> Iterator[tuple[str, int, int]]:
    """The events after OrderPlaced + first line: ("add", line, qty) or ("change", line, qty)."""
    for n in range(events - 2):
        if n < LINES - 1:
            yield ("add", n + 1, 1)
        else:
            k = n - (LINES - 1)
            line, turn = k % LINES, k // LINES
            yield ("change", line, 2 + turn % 2)


class LoadSession:
    """``reps`` timed loads per round (interleaved with the other contender's loads); the
    round's figure is their median in ms. ``close`` runs the contender's clean-up."""

    def __init__(self, load: Callable[[], object], reps: int, close: Callable[[], None]) -> None:
        self.slices = reps
        self._load = load
        self._close = close

    def step(self, index: int) -> float:
        load = self._load
        started = clock()
        load()
        return clock() - started

    def figure(self, times: Sequence[float]) -> float:
        return statistics.median(times) * 1000

    def close(self) -> None:
        self._close()


# ------------------------------------------------------------------------------ project


def _build_project(path: Path, events: int, snapshot_at: int | None) -> str:
    """An order of ``events`` events; optionally a snapshot (TakeSnapshot) at ``snapshot_at``."""
    from desktop_app.application import commands as c
    from desktop_app.application.ports import EventMetadata
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.domain.order import NewLine

    app = bootstrap(
        Settings(db_path=path, synchronous=BUILD_SYNCHRONOUS, snapshot_interval=0),
        source="bench",
    )
    try:
        dispatch = app.commands.dispatch
        customer = dispatch(c.RegisterCustomer(name="Bench Customer")).aggregate_id
        product_ids = [
            dispatch(
                c.AddProduct(
                    sku=f"SKU-{p:04d}",
                    name=f"Product {p}",
                    price=Decimal(f"{p + 1}.50"),
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
            metadata = EventMetadata(
                correlation_id="bench-build",
                causation_id=str(uuid.uuid4()),
                user="bench",
                host="bench-host",
                app_version="0.1.0",
                source="bench",
            )
            repo.save(order, expected_version=saved, metadata=metadata, command_id=None)
            saved = order.version

        for kind, line, quantity in plan(events):
            if kind == "add":
                line_id = str(uuid.uuid4())
                line_ids.append(line_id)
                order.add_line(
                    NewLine(line_id=line_id, product=products[line % 4], quantity=quantity)
                )
            else:
                order.change_quantity(line_ids[line], quantity)
            if order.version == snapshot_at or order.version - saved >= BATCH:
                save()
            if order.version == snapshot_at:
                dispatch(c.TakeSnapshot(order_id=order_id))
        if order.version != saved:
            save()
        if order.version != events:
            raise RuntimeError(f"built {order.version} events, wanted {events}")
        return order_id
    finally:
        app.close()


def project_contender(
    folder: Path, events: int, reps: int, *, snapshots: bool, info: dict[str, Any]
) -> Contender:
    """Time ``app.deps.orders.load`` on a file built once."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    name = "project_snapshot" if snapshots else "project"
    path = folder / f"p2-{name}.sqlite"
    log(f"  building {events:,} events for {name}…")
    order_id = _build_project(path, events, events - SNAPSHOT_TAIL if snapshots else None)
    interval = 50 if snapshots else 0
    app = bootstrap(
        Settings(db_path=path, synchronous=BUILD_SYNCHRONOUS, snapshot_interval=interval),
        source="bench",
    )
    info[f"{name}_snapshots"] = [
        s.version for s in app.snapshots.list_snapshots(app.deps.orders.stream_id(order_id))
    ]
    app.close()

    def open_(round_index: int) -> LoadSession:
        # A fresh app per round: nothing cached between rounds (there is no aggregate cache).
        app = bootstrap(
            Settings(db_path=path, synchronous=BUILD_SYNCHRONOUS, snapshot_interval=interval),
            source="bench",
        )
        load = app.deps.orders.load
        order = load(order_id)
        if order.version != events:
            app.close()
            raise RuntimeError(f"loaded v{order.version}, wanted {events}")
        return LoadSession(lambda: load(order_id), reps, app.close)

    label = "project, snapshot policy on (50)" if snapshots else "project, no snapshot"
    return Contender(name, label, "ms", "lower", open_)


# ------------------------------------------------------------------------------ raw sqlite3


def raw_contender(folder: Path, events: int, reps: int) -> Contender:
    """Fetch + decode + fold with hand-written SQL."""
    path = folder / "p2-raw.sqlite"
    log(f"  building {events:,} events for raw…")
    log_ = raw_sqlite.RawEventLog(path, synchronous=BUILD_SYNCHRONOUS)
    order_id = str(uuid.uuid4())
    stream = f"order-{order_id}"
    line_ids = [str(uuid.uuid4())]
    batch: list[raw_sqlite.RawEvent] = [
        raw_sqlite.order_placed(order_id, "SO-000001", "customer-1"),
        raw_sqlite.line_added(order_id, line_ids[0], 0, 1),
    ]
    version = 0
    for kind, line, quantity in plan(events):
        if kind == "add":
            line_ids.append(str(uuid.uuid4()))
            batch.append(raw_sqlite.line_added(order_id, line_ids[-1], line % 4, quantity))
        else:
            batch.append(raw_sqlite.quantity_changed(order_id, line_ids[line], quantity))
        if len(batch) >= BATCH:
            command_id = str(uuid.uuid4())
            meta = raw_sqlite.command_metadata(command_id)
            version = log_.append(stream, version, batch, meta, command_id)
            batch = []
    if batch:
        command_id = str(uuid.uuid4())
        meta = raw_sqlite.command_metadata(command_id)
        version = log_.append(stream, version, batch, meta, command_id)
    log_.close()
    if version != events:
        raise RuntimeError(f"built {version} raw events, wanted {events}")

    def open_(round_index: int) -> LoadSession:
        reader = raw_sqlite.RawEventLog(path, synchronous=BUILD_SYNCHRONOUS)
        if reader.load_order(stream)["version"] != events:
            reader.close()
            raise RuntimeError("raw fold lost events")
        return LoadSession(lambda: reader.load_order(stream), reps, reader.close)

    return Contender("raw", "raw sqlite3 fetch+decode+fold", "ms", "lower", open_)


# ------------------------------------------------------------------------------ eventsourcing


def _build_es(path: Path, events: int, snapshot_at: int) -> UUID:
    app = es_baseline.EsOrdersWithSnapshotStore(path, synchronous=BUILD_SYNCHRONOUS)
    try:
        line_ids = [str(uuid.uuid4())]
        first = (line_ids[0], "product-0", "SKU-0000", "Product 0", 1, Decimal("1.50"))
        order_id = app.place_order("SO-000001", "customer-1", first)
        order = app.load(order_id)
        saved = order.version
        for kind, line, quantity in plan(events):
            if kind == "add":
                line_ids.append(str(uuid.uuid4()))
                p = line % 4
                order.add_line(
                    line_ids[-1],
                    f"product-{p}",
                    f"SKU-{p:04d}",
                    f"Product {p}",
                    quantity,
                    Decimal(f"{p + 1}.50"),
                )
            else:
                order.change_quantity(line_ids[line], quantity)
            if order.version - saved >= BATCH or order.version == snapshot_at:
                app.save(order)
                saved = order.version
            if order.version == snapshot_at:
                app.take_snapshot(order_id, version=snapshot_at)
        if order.version != saved:
            app.save(order)
        if order.version != events:
            raise RuntimeError(f"built {order.version} eventsourcing events, wanted {events}")
        return order_id
    finally:
        app.close()


def es_contender(folder: Path, events: int, reps: int) -> Contender:
    """eventsourcing's snapshot load: ``repository.get`` with snapshotting on."""
    path = folder / "p2-es.sqlite"
    log(f"  building {events:,} events for eventsourcing…")
    order_id = _build_es(path, events, events - SNAPSHOT_TAIL)

    def open_(round_index: int) -> LoadSession:
        app = es_baseline.EsSnapshottingOrders(path, synchronous=BUILD_SYNCHRONOUS)
        if app.load(order_id).version != events:
            app.close()
            raise RuntimeError("eventsourcing load lost events")
        return LoadSession(lambda: app.load(order_id), reps, app.close)

    return Contender(
        "eventsourcing_snapshot", "eventsourcing 9.x snapshot load", "ms", "lower", open_
    )


# ------------------------------------------------------------------------------ benchmark


def run(
    folder: Path,
    *,
    events: int,
    reps: int,
    rounds: int,
    warmup: int,
    contenders: Sequence[str],
) -> BenchResult:
    """P2 (a) and (b)."""
    info: dict[str, Any] = {}
    snap_reps = reps * SNAPSHOT_REPS_FACTOR  # a snapshot load is ~50x cheaper: more samples
    sections = []
    a: list[Contender] = []
    if "project" in contenders:
        a.append(project_contender(folder, events, reps, snapshots=False, info=info))
    if "raw" in contenders:
        a.append(raw_contender(folder, events, reps))
    if a:
        both = len(a) == 2
        sections.append(
            Section(
                key="P2a",
                title=f"P2a load a {events:,}-event order, no snapshot",
                contenders=a,
                ratios=[Ratio("project/raw", "project", "raw")] if both else [],
                goals=[Goal("P2", "project/raw", "<=", 1.5, "no snapshot: ≤ 1.5 × raw")]
                if both
                else [],
                notes={"events": events, "loads_per_round": reps},
            ).run(rounds=rounds, warmup=warmup)
        )
    b: list[Contender] = []
    if "project" in contenders:
        b.append(project_contender(folder, events, snap_reps, snapshots=True, info=info))
    if "eventsourcing" in contenders:
        b.append(es_contender(folder, events, snap_reps))
    if b:
        both = len(b) == 2
        sections.append(
            Section(
                key="P2b",
                title=f"P2b load a {events:,}-event order from a snapshot",
                contenders=b,
                ratios=[
                    Ratio("project/eventsourcing", "project_snapshot", "eventsourcing_snapshot")
                ]
                if both
                else [],
                goals=[
                    Goal(
                        "P2",
                        "project/eventsourcing",
                        "<=",
                        round(1 / 1.5, 4),
                        "with snapshots: ≤ 1/1.5 of eventsourcing",
                    )
                ]
                if both
                else [],
                notes={
                    "events": events,
                    "snapshot_at": events - SNAPSHOT_TAIL,
                    "tail_events": SNAPSHOT_TAIL,
                    "loads_per_round": snap_reps,
                },
            ).run(rounds=rounds, warmup=warmup)
        )
    return BenchResult(
        id="P2",
        title=f"load a {events:,}-event order",
        sections=sections,
        notes={
            "build": f"once per run, batches of {BATCH} events per transaction, "
            f"synchronous={BUILD_SYNCHRONOUS}; figure per round = median of its loads "
            "(loads of the two contenders alternate)",
            **{k: (v if len(v) < 8 else f"{len(v)} snapshots") for k, v in info.items()},
        },
    )
