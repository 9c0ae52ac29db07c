"""P1 — the order workflow: place (1 line) + 3 × add line + confirm = 5 commands per order, one
transaction per command, at ``synchronous=FULL`` and ``NORMAL``.

Contenders (fresh files in the run's temp folder every round, WAL, the same ``synchronous``):

* ``project`` — the full command bus (validation, ids, logging, de-duplication, retry, handler,
  repository load with the snapshot policy, append with the hash chain); the customer and the
  four products are registered before the clock starts;
* ``projector`` — the same, with the background projector running in the same process as the
  GUI runs it (its settings: batches of 200, no bulk catch-up; ``build_jobs`` on an APScheduler
  ``BackgroundScheduler``; every commit wakes the projector job; a listener per status, as the
  GUI's bridge), without Qt. Scheduled backups are left out (once a day, not part of the
  workflow). Each slice is timed until the projector has caught up with it (the lists show
  its commands): the projector gathers a stream of commits for up to 40 ms, longer than a
  slice, so timing the commands alone would leave its work out. The commands-alone figure is
  reported beside;
* ``raw`` — hand-written SQL on one connection: per command, read the stream's version and the
  chain head, append the event(s) with their hash, record the command id, commit;
* ``eventsourcing`` — ``repository.get`` + method + ``save`` on an equivalent aggregate.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal

from benchmarks import es_baseline, raw_sqlite
from benchmarks.harness import (
    BenchResult,
    Contender,
    Goal,
    Ratio,
    Section,
    Stats,
    clock,
    fmt,
    log,
)

COMMANDS_PER_ORDER = 5
PRODUCTS = 4
Synchronous = Literal["FULL", "NORMAL"]
SYNC_LEVELS: tuple[Synchronous, ...] = ("FULL", "NORMAL")


def _quantity(order: int, line: int) -> int:
    return 1 + (order + line) % 7


def _slices(orders: int) -> list[range]:
    """Orders split into ~20 slices, interleaved with the other contenders' slices."""
    size = max(1, orders // 20)
    return [range(start, min(start + size, orders)) for start in range(0, orders, size)]


class _WorkflowSession:
    """Common parts: slices of orders, cmds/s from the slice times."""

    def __init__(self, orders: int) -> None:
        self.parts = _slices(orders)
        self.slices = len(self.parts)
        self.orders = orders

    def figure(self, times: Sequence[float]) -> float:
        return self.orders * COMMANDS_PER_ORDER / sum(times)


# ------------------------------------------------------------------------------ project


class ProjectSession(_WorkflowSession):
    """The project through ``app.commands.dispatch``; catalog registered before timing."""

    def __init__(
        self,
        path: Path,
        synchronous: Synchronous,
        orders: int,
        seen: list[str],
        *,
        gui: bool = False,
    ) -> None:
        """``gui``: the settings the GUI runs with (small projector batches, no bulk catch-up,
        as ``desktop_app.__main__`` sets them)."""
        from desktop_app.application import commands as c
        from desktop_app.bootstrap import bootstrap
        from desktop_app.config import Settings

        super().__init__(orders)
        settings = Settings(db_path=path, synchronous=synchronous)
        if gui:
            settings = dataclasses.replace(
                settings, projector_batch=200, projector_bulk_catch_up=False
            )
        self.app = bootstrap(settings, source="bench")
        app = self.app
        if app.database is not None and not seen:
            pragmas = app.database.pragma_report()
            seen.append(f"{pragmas.get('journal_mode')}/{pragmas.get('synchronous')}")
            log(f"    project pragmas: {pragmas}")
        self.dispatch = dispatch = app.commands.dispatch
        customer = dispatch(c.RegisterCustomer(name="Bench Customer")).aggregate_id
        products = [
            dispatch(
                c.AddProduct(
                    sku=f"SKU-{p:04d}",
                    name=f"Product {p}",
                    price=Decimal(f"{p + 1}.50"),
                    currency="EUR",
                )
            ).aggregate_id
            for p in range(PRODUCTS)
        ]
        self.commands: list[list[c.Command]] = []
        for o in range(orders):
            order_id = str(uuid.uuid4())
            batch: list[c.Command] = [
                c.PlaceOrder(
                    customer_id=customer,
                    lines=(c.LineInput(product_id=products[0], quantity=_quantity(o, 0)),),
                    order_id=order_id,
                )
            ]
            for line in (1, 2, 3):
                batch.append(
                    c.AddOrderLine(
                        order_id=order_id,
                        line=c.LineInput(
                            product_id=products[line % PRODUCTS], quantity=_quantity(o, line)
                        ),
                    )
                )
            batch.append(c.ConfirmOrder(order_id=order_id))
            self.commands.append(batch)

    def step(self, index: int) -> float:
        dispatch = self.dispatch
        todo = [cmd for o in self.parts[index] for cmd in self.commands[o]]
        started = clock()
        for command in todo:
            dispatch(command)
        return clock() - started

    def close(self) -> None:
        self.app.close()


class ProjectorSession(ProjectSession):
    """The project with the GUI's background projector and jobs running in this process."""

    def __init__(
        self,
        path: Path,
        synchronous: Synchronous,
        orders: int,
        seen: list[str],
        commands_only: list[float],
    ) -> None:
        """``commands_only`` gets this round's commands per second counting the commands alone
        (without the catch-up after each slice): see :meth:`step`."""
        from desktop_app.jobs import JobsConfig, build_jobs

        super().__init__(path, synchronous, orders, seen, gui=True)
        self.commands_only = commands_only
        self.command_times: list[float] = []
        app = self.app
        if app.projector is None or app.settings is None:
            raise RuntimeError("the project app has no projector")
        self.projector = app.projector
        self.statuses = 0
        # What the GUI's bridge does with every status and job report: take it and hand it on.
        self.projector.add_listener(self._on_status)
        self.jobs = build_jobs(app, JobsConfig.from_settings(app.settings), backups=False)
        self.jobs.add_listener(self._on_status)
        self.jobs.start()
        self._caught_up()  # the catalog, before any timing

    def _on_status(self, status: object) -> None:
        self.statuses += 1

    def _caught_up(self) -> None:
        head = self.app.events.head_position()
        if not self.projector.wait_until(head, 600):
            raise RuntimeError(f"the projector did not reach {head}: {self.projector.status()}")

    def step(self, index: int) -> float:
        """The slice's commands AND their projection: the time until the lists show them.

        Timing the commands alone would not measure the projector: it gathers a stream of
        commits for up to ``projector_gather_max_seconds`` (40 ms) before a run, longer than a
        slice takes, so its work would fall after the timed part. Counting the catch-up makes
        this the cost of both, with whatever overlap the projector finds (a command's fsync
        releases the GIL) — and a slightly pessimistic one, since a slice ends with a wait for
        the last batch that a longer stream would overlap with the next commands."""
        commands = super().step(index)
        started = clock()
        self._caught_up()
        tail = clock() - started
        self.command_times.append(commands)
        return commands + tail

    def figure(self, times: Sequence[float]) -> float:
        self.commands_only.append(self.orders * COMMANDS_PER_ORDER / sum(self.command_times))
        return super().figure(times)

    def close(self) -> None:
        self.jobs.shutdown(wait=True)
        super().close()


def projector_contender(
    folder: Path, synchronous: Synchronous, orders: int, commands_only: list[float]
) -> Contender:
    """The project with the GUI's background projector in the same process."""
    seen: list[str] = []

    def open_(round_index: int) -> ProjectorSession:
        path = folder / f"p1-projector-{synchronous}-{round_index}.sqlite"
        return ProjectorSession(path, synchronous, orders, seen, commands_only)

    return Contender(
        "projector", "project + background projector, until projected", "cmds/s", "higher", open_
    )


def project_contender(folder: Path, synchronous: Synchronous, orders: int) -> Contender:
    """The project through ``app.commands.dispatch``."""
    seen: list[str] = []

    def open_(round_index: int) -> ProjectSession:
        path = folder / f"p1-project-{synchronous}-{round_index}.sqlite"
        return ProjectSession(path, synchronous, orders, seen)

    return Contender("project", "project (full command bus)", "cmds/s", "higher", open_)


# ------------------------------------------------------------------------------ raw sqlite3


class RawSession(_WorkflowSession):
    """Hand-written SQL, one connection, one transaction per command."""

    def __init__(self, path: Path, synchronous: str, orders: int) -> None:
        super().__init__(orders)
        self.log = raw_sqlite.RawEventLog(path, synchronous=synchronous)
        self.customer = str(uuid.uuid4())

    def step(self, index: int) -> float:
        append = self.log.append
        customer = self.customer
        meta = raw_sqlite.command_metadata
        started = clock()
        for o in self.parts[index]:
            order_id = str(uuid.uuid4())
            stream = f"order-{order_id}"
            command_id = str(uuid.uuid4())
            placed = [
                raw_sqlite.order_placed(order_id, f"SO-{o:06d}", customer),
                raw_sqlite.line_added(order_id, str(uuid.uuid4()), 0, _quantity(o, 0)),
            ]
            version = append(stream, 0, placed, meta(command_id), command_id)
            for line in (1, 2, 3):
                command_id = str(uuid.uuid4())
                event = raw_sqlite.line_added(
                    order_id, str(uuid.uuid4()), line % PRODUCTS, _quantity(o, line)
                )
                version = append(stream, version, [event], meta(command_id), command_id)
            command_id = str(uuid.uuid4())
            confirmed = [raw_sqlite.order_confirmed(order_id)]
            append(stream, version, confirmed, meta(command_id), command_id)
        return clock() - started

    def close(self) -> None:
        self.log.close()


def raw_contender(folder: Path, synchronous: str, orders: int) -> Contender:
    """Hand-written SQL, one connection, one transaction per command."""

    def open_(round_index: int) -> RawSession:
        path = folder / f"p1-raw-{synchronous}-{round_index}.sqlite"
        return RawSession(path, synchronous, orders)

    return Contender("raw", "raw sqlite3 (physical limit)", "cmds/s", "higher", open_)


# ------------------------------------------------------------------------------ eventsourcing


def _es_line(o: int, index: int) -> tuple[str, str, str, str, int, Decimal]:
    p = index % PRODUCTS
    return (
        str(uuid.uuid4()),
        f"product-{p}",
        f"SKU-{p:04d}",
        f"Product {p}",
        _quantity(o, index),
        Decimal(f"{p + 1}.50"),
    )


class EsSession(_WorkflowSession):
    """eventsourcing 9.x: ``repository.get`` + method + ``save`` per command."""

    def __init__(self, path: Path, synchronous: str, orders: int, seen: list[str]) -> None:
        super().__init__(orders)
        self.app = es_baseline.EsOrders(path, synchronous=synchronous)
        if not seen:
            seen.append(f"{self.app.journal_mode()}/{self.app.synchronous()}")
            log(f"    eventsourcing pragmas: journal_mode/synchronous = {seen[0]}")
        self.customer = str(uuid.uuid4())

    def step(self, index: int) -> float:
        app = self.app
        started = clock()
        for o in self.parts[index]:
            order_id = app.place_order(f"SO-{o:06d}", self.customer, _es_line(o, 0))
            for line in (1, 2, 3):
                app.add_line(order_id, _es_line(o, line))
            app.confirm(order_id)
        return clock() - started

    def close(self) -> None:
        self.app.close()


def es_contender(folder: Path, synchronous: str, orders: int, seen: list[str]) -> Contender:
    """eventsourcing 9.x: ``repository.get`` + method + ``save`` per command."""

    def open_(round_index: int) -> EsSession:
        path = folder / f"p1-es-{synchronous}-{round_index}.sqlite"
        return EsSession(path, synchronous, orders, seen)

    return Contender("eventsourcing", "eventsourcing 9.x (SQLite)", "cmds/s", "higher", open_)


# ------------------------------------------------------------------------------ benchmark


def run(
    folder: Path,
    *,
    orders: int,
    rounds: int,
    warmup: int,
    contenders: Sequence[str],
) -> BenchResult:
    """P1 at FULL and at NORMAL."""
    sections = []
    for synchronous in SYNC_LEVELS:
        es_seen: list[str] = []
        commands_only: list[float] = []
        factories: dict[str, Callable[[], Contender]] = {
            "project": partial(project_contender, folder, synchronous, orders),
            "projector": partial(projector_contender, folder, synchronous, orders, commands_only),
            "raw": partial(raw_contender, folder, synchronous, orders),
            "eventsourcing": partial(es_contender, folder, synchronous, orders, es_seen),
        }
        chosen = [factories[name]() for name in factories if name in contenders]
        names = {c.name for c in chosen}
        ratios = [
            r
            for r in (
                Ratio("project/eventsourcing", "project", "eventsourcing"),
                Ratio("projector/eventsourcing", "projector", "eventsourcing"),
                Ratio("projector/project", "projector", "project"),
                Ratio("project/raw", "project", "raw"),
                Ratio("eventsourcing/raw", "eventsourcing", "raw"),
            )
            if r.numerator in names and r.denominator in names
        ]
        goals = [
            Goal(
                "P1",
                "project/eventsourcing",
                ">=",
                1.5,
                f"project ≥ 1.5 × eventsourcing at {synchronous}",
            ),
            Goal(
                "P1",
                "projector/eventsourcing",
                ">=",
                1.2,
                f"project with the background projector ≥ 1.2 × eventsourcing at {synchronous}",
            ),
        ]
        if synchronous == "FULL":
            goals.append(Goal("P1", "project/raw", ">=", 0.7, "project ≥ 0.7 × raw at FULL"))
        ratio_names = {r.name for r in ratios}
        notes: dict[str, Any] = {
            "orders_per_round": orders,
            "commands_per_round": orders * COMMANDS_PER_ORDER,
            "synchronous": synchronous,
        }
        section = Section(
            key=f"P1 {synchronous}",
            title=f"P1 order workflow, synchronous={synchronous}",
            contenders=chosen,
            ratios=ratios,
            goals=[g for g in goals if g.ratio in ratio_names],
            notes=notes,
        )
        section.run(rounds=rounds, warmup=warmup)
        if es_seen:
            notes["eventsourcing_pragmas"] = es_seen[0]
        if commands_only[warmup:]:
            only = Stats.of(commands_only[warmup:])
            notes["projector_commands_only"] = (
                f"{fmt(only.median)} cmds/s ({fmt(only.min)}–{fmt(only.max)}) timing the "
                "commands alone (the projector's gathering puts most of its work after a slice)"
            )
        sections.append(section)
    return BenchResult(
        id="P1",
        title="order workflow: place (1 line) + 3 × add line + confirm, one transaction each",
        sections=sections,
        notes={
            "workload": "5 commands per order (6 events), fresh SQLite files per round, WAL; "
            "each round interleaves ~20 slices of orders across the contenders",
            "eventsourcing_synchronous": "set by PRAGMA on every pooled connection "
            "(its SQLite module never sets it; default would be FULL)",
            "raw": "per command: BEGIN IMMEDIATE, max(version), chain head, INSERT events "
            "(sha256 chain), INSERT commands, COMMIT",
        },
    )
