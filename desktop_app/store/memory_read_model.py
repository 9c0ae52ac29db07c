"""In-memory fakes of the read side's three ports, for unit tests and the contract suite.

:class:`InMemoryEventFeed` reads an :class:`~desktop_app.store.memory.InMemoryEventStore`;
:class:`InMemoryProjectionTarget` and :class:`InMemoryOrderListQueries` share one
:class:`InMemoryReadModelTables`. They answer exactly as the SQLite parts do (same sort order,
same keyset cursors, same search rules), which tests/contract/test_read_model_contract.py
checks against both. Every read hands out copies, so a caller can never change stored rows.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from desktop_app.application.ports import (
    CheckpointConflictError,
    CustomerState,
    EventRecord,
    LineState,
    ListOrdersSpec,
    NotReadModelOwnerError,
    OrderDetail,
    OrderLineRow,
    OrderRow,
    OrderState,
    ProductState,
    ReadModel,
    ReadModelKeys,
    ReadModelOwner,
    StoreReadOnlyError,
    WorkingSet,
)
from desktop_app.identity import host_name
from desktop_app.store.hashing import Row
from desktop_app.store.list_rules import decode_cursor, encode_cursor, fold
from desktop_app.store.memory import InMemoryEventStore

_SORT_KEYS: dict[str, Callable[[OrderState], object]] = {
    "order_number": lambda o: o.order_number,
    "customer_name": lambda o: fold(o.customer_name),
    "status": lambda o: o.status,
    "line_count": lambda o: o.line_count,
    "total": lambda o: o.total_minor,
    "placed_at": lambda o: o.placed_at,
    "updated_at": lambda o: o.updated_at,
    "version": lambda o: o.version,
}
"""The allow-listed sorts, as the SQLite queries order them (``SORT_SQL``)."""


def _record(order: OrderState) -> OrderRow:
    return OrderRow(
        order.order_id,
        order.order_number,
        order.customer_id,
        order.customer_name,
        order.status,
        order.line_count,
        order.total_minor,
        order.currency,
        order.placed_at,
        order.updated_at,
        order.version,
        order.last_position,
    )


def _event_record(row: Row) -> EventRecord:
    position, stream_id, version, _, type_name, schema_version, payload, _, recorded_at = row[:9]
    return EventRecord(
        position, stream_id, version, type_name, schema_version, json.loads(payload), recorded_at
    )


class InMemoryEventFeed:
    """``EventFeed`` over an in-memory event store."""

    def __init__(self, events: InMemoryEventStore) -> None:
        self._events = events

    def _rows(self, after: int, limit: int | None) -> list[Row]:
        store = self._events
        with store._lock:  # the store's own rows, as stored (same package)
            rows = store._rows
            start = max(after, 0)
            return rows[start:] if limit is None else rows[start : start + limit]

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        return self._events.head_position()

    def read_events(self, *, after_position: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events after a position, in position order."""
        return [_event_record(r) for r in self._rows(after_position, max(limit, 0))]

    @contextmanager
    def scan_events(
        self, *, after_position: int, chunk: int
    ) -> Iterator[Iterator[list[EventRecord]]]:
        """Every event after a position in lists of up to ``chunk``, as of the call."""
        rows = self._rows(after_position, None)  # the snapshot: later appends are not seen
        size = max(1, chunk)

        def chunks() -> Iterator[list[EventRecord]]:
            for start in range(0, len(rows), size):
                yield [_event_record(r) for r in rows[start : start + size]]

        yield chunks()


class InMemoryReadModelTables:
    """The rows of one read model (what the SQLite file's ``rm_*`` tables hold)."""

    def __init__(self, events: InMemoryEventStore | None = None) -> None:
        self.lock = threading.RLock()
        self.events = events
        self.orders: dict[str, OrderState] = {}
        self.lines: dict[str, dict[str, LineState]] = {}
        self.customers: dict[str, CustomerState] = {}
        self.products: dict[str, ProductState] = {}
        self.former_names: set[tuple[str, str]] = set()
        """(customer id, folded name it had before a rename)."""
        self.checkpoints: dict[str, int] = {}
        self.owner: tuple[str, ReadModelOwner] | None = None
        self.commits = 0
        """Counts every write (the in-memory ``data_version``)."""


class _MemoryBatch:
    """One batch: copies of the touched rows; applied to the tables when the batch ends."""

    def __init__(self, tables: InMemoryReadModelTables, name: str, expected: int) -> None:
        self._tables = tables
        self._name = name
        self._expected = expected
        self.saved: tuple[WorkingSet, int] | None = None

    def load(self, keys: ReadModelKeys) -> WorkingSet:
        t = self._tables
        work = WorkingSet()
        for oid in keys.orders:
            if oid in t.orders:
                work.orders[oid] = copy.copy(t.orders[oid])
                work.lines[oid] = {k: copy.copy(v) for k, v in t.lines.get(oid, {}).items()}
        customers = set(keys.customers) | {o.customer_id for o in work.orders.values()}
        for cid in customers:
            if cid in t.customers:
                work.customers[cid] = copy.deepcopy(t.customers[cid])
        products = set(keys.products)
        for lines in work.lines.values():
            products.update(line.product_id for line in lines.values())
        for pid in products:
            if pid in t.products:
                work.products[pid] = copy.copy(t.products[pid])
        return work

    def save(self, work: WorkingSet, new_checkpoint: int) -> None:
        actual = self._tables.checkpoints.get(self._name, 0)
        if actual != self._expected:
            raise CheckpointConflictError(self._name, self._expected, actual)
        self.saved = (work, new_checkpoint)

    def apply(self) -> None:
        """Write the saved changes (the end of a clean batch: its commit)."""
        if self.saved is None:
            return
        work, new_checkpoint = self.saved
        t = self._tables
        for cid, name in work.customer_renames.items():
            for order in t.orders.values():
                if order.customer_id == cid:
                    order.customer_name = name
        for pid, name in work.product_renames.items():
            for lines in t.lines.values():
                for line in lines.values():
                    if line.product_id == pid:
                        line.product_name = name
        for oid, lid in work.removed_lines:
            t.lines.get(oid, {}).pop(lid, None)
        for oid in work.dirty_orders:
            t.orders[oid] = copy.copy(work.orders[oid])
        for oid, lid in work.dirty_lines:
            t.lines.setdefault(oid, {})[lid] = copy.copy(work.lines[oid][lid])
        for cid in work.dirty_customers:
            t.customers[cid] = copy.deepcopy(work.customers[cid])
        for cid, name in work.former_names:
            t.former_names.add((cid, fold(name)))
        for pid in work.dirty_products:
            t.products[pid] = copy.copy(work.products[pid])
        t.checkpoints[self._name] = new_checkpoint


class InMemoryProjectionTarget:
    """``ProjectionTarget`` over :class:`InMemoryReadModelTables`."""

    def __init__(self, tables: InMemoryReadModelTables, *, read_only: bool = False) -> None:
        self._tables = tables
        self._read_only = read_only
        self._token: str | None = None

    @property
    def read_only(self) -> bool:
        """True when the tables may not be written (as on a read-only file)."""
        return self._read_only

    def _writable(self) -> None:
        if self._read_only:
            raise StoreReadOnlyError("Changes cannot be saved: the read model is read-only.")

    def _check_owner(self) -> None:
        """Raise unless this target holds the tables (as the SQLite target checks its row)."""
        held = self._tables.owner
        if self._token is not None and held is not None and held[0] == self._token:
            return
        self._token = None  # never claimed, or lost to another owner
        raise NotReadModelOwnerError(held[1] if held is not None else None)

    def prepare(self) -> bool:
        """Nothing to create; never reset (there is no older schema in memory)."""
        return False

    def checkpoint(self, name: str) -> int:
        """Position of the last event the named projector applied (0: none)."""
        with self._tables.lock:
            return self._tables.checkpoints.get(name, 0)

    def data_version(self) -> int:
        """Changes with every write to these tables and every event appended."""
        t = self._tables
        with t.lock:
            head = t.events.head_position() if t.events is not None else 0
            return t.commits + head

    def claim(self, name: str) -> bool:
        """Become the owner (or stay); False while another owner holds the tables."""
        self._writable()
        t = self._tables
        with t.lock:
            if self._token is not None and t.owner is not None and t.owner[0] == self._token:
                return True
            if t.owner is not None:
                return False
            self._token = uuid.uuid4().hex
            since = datetime.now(UTC).isoformat(timespec="seconds")
            owner = ReadModelOwner(name=name, pid=os.getpid(), host=host_name(), since=since)
            t.owner = (self._token, owner)
            if len(t.checkpoints) == 1 and name not in t.checkpoints:
                t.checkpoints = {name: next(iter(t.checkpoints.values()))}
            t.commits += 1
            return True

    def owner(self) -> ReadModelOwner | None:
        """The owner of the tables (None when nobody claimed them)."""
        with self._tables.lock:
            held = self._tables.owner
            return held[1] if held is not None else None

    @contextmanager
    def batch(self, name: str, expected_checkpoint: int) -> Iterator[_MemoryBatch]:
        """A batch: its changes are applied on a clean exit, dropped on an exception."""
        self._writable()
        t = self._tables
        with t.lock:
            self._check_owner()
            actual = t.checkpoints.setdefault(name, 0)
            if actual != expected_checkpoint:
                raise CheckpointConflictError(name, expected_checkpoint, actual)
            batch = _MemoryBatch(t, name, expected_checkpoint)
            yield batch
            batch.apply()
            t.commits += 1

    def reset(self, name: str) -> None:
        """Delete every row; the checkpoint starts again at 0."""
        self._writable()
        t = self._tables
        with t.lock:
            self._check_owner()
            t.orders, t.lines, t.customers, t.products = {}, {}, {}, {}
            t.former_names = set()
            t.checkpoints = {name: 0}
            t.commits += 1

    def replace_all(
        self,
        name: str,
        work: WorkingSet,
        checkpoint: int,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Swap every row for those of ``work`` and the checkpoint, at once."""
        self._writable()
        t = self._tables
        rows = copy.deepcopy((work.orders, work.lines, work.customers, work.products))
        former = {(cid, fold(n)) for cid, n in work.former_names}
        if progress is not None:
            progress(0.0)
        with t.lock:
            self._check_owner()
            t.orders, t.lines, t.customers, t.products = rows
            t.former_names = former
            t.checkpoints = {name: checkpoint}
            t.commits += 1
        if progress is not None:
            progress(1.0)

    def begin_bulk(self) -> None:
        """Nothing to drop (no indexes in memory); only the owner may call it."""
        with self._tables.lock:
            self._check_owner()

    def end_bulk(self) -> None:
        """Nothing is derived from the rows in memory; only the owner may call it."""
        with self._tables.lock:
            self._check_owner()

    def close(self) -> None:
        """Give back ownership if held."""
        t = self._tables
        with t.lock:
            if self._token is not None and t.owner is not None and t.owner[0] == self._token:
                t.owner = None
            self._token = None


class InMemoryOrderListQueries:
    """``OrderListQueries`` over :class:`InMemoryReadModelTables`."""

    def __init__(self, tables: InMemoryReadModelTables) -> None:
        self._tables = tables

    def _matches(self, order: OrderState, query: ListOrdersSpec, needle: str) -> bool:
        t = self._tables
        if query.statuses is not None and order.status not in query.statuses:
            return False
        if query.customer_id is not None and order.customer_id != query.customer_id:
            return False
        when = order.placed_at if query.date_column == "placed_at" else order.updated_at
        if query.date_from is not None and when < query.date_from:
            return False
        if query.date_to is not None and when >= query.date_to:
            return False
        if not query.search:
            return True
        return (
            needle in fold(order.order_number)
            or needle in fold(order.customer_name)
            or any(needle in fold(ln.sku) for ln in t.lines.get(order.order_id, {}).values())
            or any(cid == order.customer_id and needle in f for cid, f in t.former_names)
        )

    def list_orders(self, query: ListOrdersSpec) -> tuple[list[OrderRow], int | None, str | None]:
        """One page in the list's sort order (keyset cursor, offset), and the total."""
        key_of = _SORT_KEYS[query.sort]  # KeyError: the handler skipped validation
        after = None
        if query.after is not None:
            after = decode_cursor(query.after, query.sort, query.descending)
        needle = fold(query.search) if query.search else ""
        with self._tables.lock:
            found = [
                (key_of(o), o.order_id, o)
                for o in self._tables.orders.values()
                if self._matches(o, query, needle)
            ]
        found.sort(key=lambda item: (item[0], item[1]), reverse=query.descending)
        total = len(found) if query.with_total else None
        if after is not None:
            mark = (after[0], after[1])
            if query.descending:
                found = [f for f in found if _before(f[0], f[1], mark)]
            else:
                found = [f for f in found if _before(mark[0], mark[1], (f[0], f[1]))]
        page = found[query.offset : query.offset + query.limit + 1]
        more = len(page) > query.limit
        page = page[: query.limit]
        next_after = None
        if more and page:
            key, order_id, _ = page[-1]
            next_after = encode_cursor(query.sort, query.descending, key, order_id)
        return [_record(o) for _, _, o in page], total, next_after

    def get_order(self, order_id: str) -> OrderDetail | None:
        """One order's row, lines (by position) and shipping/cancel details."""
        with self._tables.lock:
            order = self._tables.orders.get(order_id)
            if order is None:
                return None
            lines = sorted(
                self._tables.lines.get(order_id, {}).values(), key=lambda ln: (ln.seq, ln.line_id)
            )
            return OrderDetail(
                order=_record(order),
                lines=tuple(
                    OrderLineRow(
                        ln.order_id,
                        ln.line_id,
                        ln.product_id,
                        ln.sku,
                        ln.product_name,
                        ln.quantity,
                        ln.unit_price_minor,
                        ln.quantity * ln.unit_price_minor,
                        ln.currency,
                    )
                    for ln in lines
                ),
                tracking_number=order.tracking_number,
                carrier=order.carrier,
                cancel_reason=order.cancel_reason,
            )

    def find_order_by_number(self, order_number: str) -> OrderRow | None:
        """The order with this number (the smallest id if several)."""
        with self._tables.lock:
            hits = [o for o in self._tables.orders.values() if o.order_number == order_number]
        return _record(min(hits, key=lambda o: o.order_id)) if hits else None

    def list_customers(self, search: str | None, limit: int) -> list[CustomerState]:
        """Customers by name; ``search`` also finds names they had before a rename."""
        needle = fold(search) if search else ""
        t = self._tables
        with t.lock:
            found = [
                c
                for c in t.customers.values()
                if not needle
                or needle in fold(c.name)
                or any(cid == c.customer_id and needle in f for cid, f in t.former_names)
            ]
            found.sort(key=lambda c: (fold(c.name), c.customer_id))
            return [copy.deepcopy(c) for c in found[: max(limit, 0)]]

    def customer_names(self) -> list[tuple[str, str]]:
        """(customer id, current name) of every customer."""
        with self._tables.lock:
            return [(c.customer_id, c.name) for c in self._tables.customers.values()]

    def get_customers(self, customer_ids: Sequence[str]) -> list[CustomerState]:
        """These customers, in the order asked (unknown ids left out)."""
        with self._tables.lock:
            known = self._tables.customers
            return [copy.deepcopy(known[cid]) for cid in customer_ids if cid in known]

    def list_products(
        self, search: str | None, include_discontinued: bool, limit: int
    ) -> list[ProductState]:
        """Products by SKU; ``search`` matches SKU or name as a literal substring."""
        needle = fold(search) if search else ""
        with self._tables.lock:
            found = [
                p
                for p in self._tables.products.values()
                if (not needle or needle in fold(p.sku) or needle in fold(p.name))
                and (include_discontinued or not p.discontinued)
            ]
            found.sort(key=lambda p: (p.sku, p.product_id))
            return [copy.copy(p) for p in found[: max(limit, 0)]]


def _before(key: object, order_id: str, mark: tuple[object, str]) -> bool:
    """(key, id) < mark, as SQLite compares row values (every number before every text)."""
    a, b = _comparable(key), _comparable(mark[0])
    return (a, order_id) < (b, mark[1])


def _comparable(value: object) -> tuple[int, object]:
    return (1, value) if isinstance(value, str) else (0, value)


def memory_read_model(
    events: InMemoryEventStore, tables: InMemoryReadModelTables | None = None
) -> ReadModel:
    """The three read-side parts over ``events`` (and ``tables``, new if not given)."""
    shared = tables if tables is not None else InMemoryReadModelTables(events)
    return ReadModel(
        feed=InMemoryEventFeed(events),
        target=InMemoryProjectionTarget(shared),
        queries=InMemoryOrderListQueries(shared),
    )
