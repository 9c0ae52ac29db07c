"""The peer: ``eventsourcing`` 9.x with its SQLite persistence, and an equivalent Order.

``eventsourcing.sqlite`` switches the file to WAL but never sets ``PRAGMA synchronous``, so a
connection would run at SQLite's default (FULL). To give it the same setting as the other
contenders, :class:`EsOrders` wraps the connection pool's ``_create_connection`` *before* any
connection is opened (in ``construct_factory``), so every pooled connection gets the PRAGMA;
:meth:`EsOrders.synchronous` reads it back so the run can show what was really used.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.sqlite import SQLiteConnection, SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import Environment


class RuleError(Exception):
    """A command refused by the order's rules."""


class EsOrder(Aggregate):
    """The same order as the project's: pending -> confirmed, lines with quantities."""

    @event("Placed")
    def __init__(
        self, order_number: str, customer_id: str, customer_name: str, currency: str
    ) -> None:
        self.order_number = order_number
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.currency = currency
        self.status = "pending"
        self.lines: dict[str, dict[str, Any]] = {}

    # --- commands (check rules, then trigger the event) -----------------------------------

    def add_line(
        self,
        line_id: str,
        product_id: str,
        sku: str,
        product_name: str,
        quantity: int,
        unit_price: Decimal,
    ) -> None:
        """Add a line to a pending order."""
        if self.status != "pending":
            raise RuleError("lines can only be changed while the order is pending")
        if line_id in self.lines:
            raise RuleError("duplicate line id")
        if not 1 <= quantity <= 1_000_000:
            raise RuleError("bad quantity")
        self._line_added(line_id, product_id, sku, product_name, quantity, unit_price)

    def change_quantity(self, line_id: str, quantity: int) -> None:
        """Change a line's quantity on a pending order."""
        if self.status != "pending":
            raise RuleError("lines can only be changed while the order is pending")
        line = self.lines.get(line_id)
        if line is None:
            raise RuleError("no such line")
        if not 1 <= quantity <= 1_000_000 or quantity == line["quantity"]:
            raise RuleError("bad quantity")
        self._quantity_changed(line_id, quantity)

    def confirm(self) -> None:
        """Confirm a pending order with at least one line."""
        if self.status != "pending" or not self.lines:
            raise RuleError("only a pending order with lines can be confirmed")
        self._confirmed()

    # --- events (mutate only) ---------------------------------------------------------------

    @event("LineAdded")
    def _line_added(
        self,
        line_id: str,
        product_id: str,
        sku: str,
        product_name: str,
        quantity: int,
        unit_price: Decimal,
    ) -> None:
        self.lines[line_id] = {
            "product_id": product_id,
            "sku": sku,
            "product_name": product_name,
            "quantity": quantity,
            "unit_price": unit_price,
        }

    @event("QuantityChanged")
    def _quantity_changed(self, line_id: str, quantity: int) -> None:
        self.lines[line_id]["quantity"] = quantity

    @event("Confirmed")
    def _confirmed(self) -> None:
        self.status = "confirmed"


def _with_synchronous(factory: SQLiteFactory, synchronous: str) -> None:
    """Make every connection the pool creates from now on use ``synchronous``."""
    pool = factory.datastore.pool
    create = pool._create_connection

    def create_with_pragma() -> SQLiteConnection:
        connection = create()
        connection._sqlite_conn.execute(f"PRAGMA synchronous={synchronous}")
        return connection

    # eventsourcing offers no hook for connection set-up; replace the pool's factory method.
    setattr(pool, "_create_connection", create_with_pragma)  # noqa: B010


class EsOrders(Application[UUID]):
    """An ``eventsourcing`` application holding orders (no snapshots)."""

    def __init__(self, db_path: Path, *, synchronous: str) -> None:
        self._bench_synchronous = synchronous
        self._datastore: SQLiteDatastore | None = None
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(db_path),
                "SQLITE_LOCK_TIMEOUT": "5",
            }
        )

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        """The SQLite factory, with our PRAGMA synchronous on every connection."""
        factory = super().construct_factory(env)
        if not isinstance(factory, SQLiteFactory):
            raise TypeError(f"expected the SQLite persistence, got {type(factory).__name__}")
        _with_synchronous(factory, self._bench_synchronous)
        self._datastore = factory.datastore
        return factory

    @property
    def datastore(self) -> SQLiteDatastore:
        """The SQLite datastore behind this application."""
        if self._datastore is None:
            raise RuntimeError("the application has no SQLite datastore")
        return self._datastore

    def synchronous(self) -> int:
        """``PRAGMA synchronous`` as seen by a pooled connection (1 NORMAL, 2 FULL)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            row = cursor.fetchone()
        return int(row[0])

    def journal_mode(self) -> str:
        """``PRAGMA journal_mode`` of the file (expected: wal)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA journal_mode")
            row = cursor.fetchone()
        return str(row[0])

    # --- commands: load, call, save ----------------------------------------------------------

    def place_order(
        self,
        order_number: str,
        customer_id: str,
        line: tuple[str, str, str, str, int, Decimal],
    ) -> UUID:
        """Create an order with one line (two events, one transaction)."""
        order = EsOrder(order_number, customer_id, "Bench Customer", "EUR")
        order.add_line(*line)
        self.save(order)
        order_id: UUID = order.id
        return order_id

    def add_line(self, order_id: UUID, line: tuple[str, str, str, str, int, Decimal]) -> None:
        """Load, add a line, save."""
        order: EsOrder = self.repository.get(order_id)
        order.add_line(*line)
        self.save(order)

    def change_quantity(self, order_id: UUID, line_id: str, quantity: int) -> None:
        """Load, change a quantity, save."""
        order: EsOrder = self.repository.get(order_id)
        order.change_quantity(line_id, quantity)
        self.save(order)

    def confirm(self, order_id: UUID) -> None:
        """Load, confirm, save."""
        order: EsOrder = self.repository.get(order_id)
        order.confirm()
        self.save(order)

    def load(self, order_id: UUID) -> EsOrder:
        """The order at its latest version (from a snapshot when the class takes them)."""
        order: EsOrder = self.repository.get(order_id)
        return order


class EsSnapshottingOrders(EsOrders):
    """The same application with eventsourcing's snapshots every 50 versions."""

    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {EsOrder: 50}


class EsOrdersWithSnapshotStore(EsOrders):
    """Snapshot table present but no automatic snapshots (to place one where we want)."""

    is_snapshotting_enabled = True


def sqlite_version() -> str:
    """The SQLite library both baselines and the project use."""
    return sqlite3.sqlite_version
