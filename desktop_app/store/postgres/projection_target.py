"""The projector's writes into the read model on a PostgreSQL server (implements
``ProjectionTarget``): the same tables (shared SQLAlchemy metadata), the same rows and the
same rules as the SQLite target (``store/projection_target.py``), with the server's means:

* a batch is ONE transaction on a pooled psycopg connection: the owner row is checked
  (``FOR SHARE``: a new owner's claim waits for it), the checkpoint row locked (``FOR
  UPDATE``) and compared, the touched rows read with ``= ANY(array)`` and written back with
  ``INSERT … ON CONFLICT … DO UPDATE``, one statement per table over per-column arrays
  (``unnest``), the
  checkpoint moved by compare-and-set, and ``NOTIFY order_desk_read_model`` sent, all
  committed together — so followers on other workstations are woken exactly when the new rows
  are visible;
* the search needs no index maintenance (trigram GIN indexes follow the rows);
* a full rebuild's swap (:meth:`replace_all`) is one transaction that deletes the rows and
  ``COPY``s the new ones in: readers keep seeing the old read model until the commit (MVCC),
  and commands are never held up (they write other tables; no table lock is taken — a
  ``TRUNCATE`` would block every reader until the commit). The read-model tables' DDL is the
  owner's (``init``), so no index is dropped for a bulk load here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg

from desktop_app.application.ports import (
    READ_MODEL_CHECKPOINT,
    CheckpointConflictError,
    NotReadModelOwnerError,
    ReadModelKeys,
    ReadModelOwner,
    WorkingSet,
)
from desktop_app.identity import host_name
from desktop_app.store import projector_lease
from desktop_app.store.list_rules import fold
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.postgres.lease import Lease, lease_of
from desktop_app.store.postgres.read_side_ddl import READ_MODEL_CHANNEL
from desktop_app.store.read_model_sql import (
    READ_MODEL_SCHEMA_VERSION,
    UPSERT_CUSTOMER,
    UPSERT_LINE,
    UPSERT_ORDER,
    UPSERT_PRODUCT,
    FaultHook,
    customer_params,
    line_params,
    load_working_set,
    order_params,
    product_params,
)
from desktop_app.store.schema import read_model_metadata, rm_meta

log = logging.getLogger(__name__)


def _pg(sql: str) -> str:
    """A SQLite statement of ``read_model_sql`` with psycopg's placeholders (those statements
    are standard SQL apart from ``?``; none holds a literal ``?`` or ``%``)."""
    assert "%" not in sql
    return sql.replace("?", "%s")


_T, _B = "text", "bigint"
_ORDER_TYPES = (_T, _T, _T, _T, _T, _T, _T, _B, _B, _T, _T, _T, _B, _B, _T, _T, _T)
_LINE_TYPES = (_T, _T, _T, _T, _T, _T, _B, _B, _B, _T, _B)
_CUSTOMER_TYPES = (_T, _T, _T, _B, _T, _B, _T)
_PRODUCT_TYPES = (_T, _T, _T, _T, _T, _B, _T, _B, _B, _B)
"""The SQL types of the ``*_params`` tuples' items, in their order."""


def _set_based(upsert: str, types: tuple[str, ...]) -> str:
    """A SQLite ``INSERT … VALUES (?, …) ON CONFLICT …`` of ``read_model_sql`` as ONE
    statement for a whole batch: the rows arrive as one array per column and ``unnest`` turns
    them back into rows (a batch's upsert is one statement, not one per row: the per-statement
    work dominated the projector's batches)."""
    head, values = upsert.split("VALUES", 1)
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    assert values.count("?") == len(types)
    tail = values[values.index("ON CONFLICT") :]
    return f"{head}SELECT * FROM unnest({arrays}) {tail}"  # noqa: S608 (constants)


_UPSERT_ORDER = _set_based(UPSERT_ORDER, _ORDER_TYPES)
_UPSERT_LINE = _set_based(UPSERT_LINE, _LINE_TYPES)
_UPSERT_CUSTOMER = _set_based(UPSERT_CUSTOMER, _CUSTOMER_TYPES)
_UPSERT_PRODUCT = _set_based(UPSERT_PRODUCT, _PRODUCT_TYPES)

_SELECT_ORDERS = """SELECT order_id, order_number, customer_id, customer_name, status,
    line_count, total_minor, currency, placed_at, updated_at, version, last_position,
    tracking_number, carrier, cancel_reason FROM rm_orders WHERE order_id = ANY(%s)"""
_SELECT_LINES = """SELECT order_id, line_id, product_id, sku, product_name, quantity,
    unit_price_minor, currency, seq FROM rm_order_lines WHERE order_id = ANY(%s)"""
_SELECT_CUSTOMERS = """SELECT customer_id, name, order_count, lifetime_value, version,
    registered_at FROM rm_customers WHERE customer_id = ANY(%s)"""
_SELECT_PRODUCTS = """SELECT product_id, sku, name, price_minor, currency, discontinued,
    units_sold, version FROM rm_products WHERE product_id = ANY(%s)"""
_RENAME_CUSTOMER = (
    "UPDATE rm_orders SET customer_name = %s, customer_fold = %s WHERE customer_id = %s"
)
_RENAME_PRODUCT = "UPDATE rm_order_lines SET product_name = %s WHERE product_id = %s"
_DELETE_LINES = (
    "DELETE FROM rm_order_lines WHERE (order_id, line_id) IN "
    "(SELECT * FROM unnest(%s::text[], %s::text[]))"
)
_INSERT_FORMER_NAME = (
    "INSERT INTO rm_customer_names (customer_id, name_fold) VALUES (%s, %s) ON CONFLICT DO NOTHING"
)
_COUNTS_ADD = """INSERT INTO rm_order_counts (customer_id, status, n)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])
    ON CONFLICT (customer_id, status) DO UPDATE SET n = rm_order_counts.n + EXCLUDED.n"""
_COUNTS_PRUNE = "DELETE FROM rm_order_counts WHERE n = 0"
_COUNTS_FILL = (
    "INSERT INTO rm_order_counts (customer_id, status, n) "
    "SELECT customer_id, status, count(*) FROM rm_orders GROUP BY customer_id, status"
)
_GET_CHECKPOINT = "SELECT position FROM rm_checkpoints WHERE name = %s"
_LOCK_CHECKPOINT = "SELECT position FROM rm_checkpoints WHERE name = %s FOR UPDATE"
_ENSURE_CHECKPOINT = (
    "INSERT INTO rm_checkpoints (name, position) VALUES (%s, 0) ON CONFLICT DO NOTHING"
)
_CAS_CHECKPOINT = "UPDATE rm_checkpoints SET position = %s WHERE name = %s AND position = %s"
_GET_META = "SELECT value FROM rm_meta WHERE key = %s"
_OWNER_FOR_SHARE = "SELECT value FROM rm_meta WHERE key = %s FOR SHARE"
_SET_META = (
    "INSERT INTO rm_meta (key, value) VALUES (%s, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
)
_DELETE_META = "DELETE FROM rm_meta WHERE key = %s AND value = %s"
_NOTIFY = f"SELECT pg_notify('{READ_MODEL_CHANNEL}', %s)"
_DATA_VERSION = (
    "SELECT (SELECT position FROM events ORDER BY position DESC LIMIT 1), "
    "(SELECT position FROM rm_checkpoints WHERE name = %s), "
    "(SELECT value FROM rm_meta WHERE key = %s)"
)

_ROW_TABLES = tuple(t.name for t in read_model_metadata.sorted_tables if t is not rm_meta)
"""Every table with rows of the projection (the checkpoints included)."""
_DELETE_ALL = tuple(f"DELETE FROM {name}" for name in _ROW_TABLES)  # noqa: S608

_COPY_COLUMNS = {
    "rm_orders": (
        "order_id, order_number, number_fold, customer_id, customer_name, customer_fold, "
        "status, line_count, total_minor, currency, placed_at, updated_at, version, "
        "last_position, tracking_number, carrier, cancel_reason"
    ),
    "rm_order_lines": (
        "order_id, line_id, product_id, sku, sku_fold, product_name, quantity, "
        "unit_price_minor, line_total_minor, currency, seq"
    ),
    "rm_customers": (
        "customer_id, name, name_fold, order_count, lifetime_value, version, registered_at"
    ),
    "rm_customer_names": "customer_id, name_fold",
    "rm_products": (
        "product_id, sku, sku_fold, name, name_fold, price_minor, currency, discontinued, "
        "units_sold, version"
    ),
    "rm_order_counts": "customer_id, status, n",
}
"""The columns a rebuild copies into each table, in the order of the ``*_params`` tuples."""


_SELECT_IN = (_SELECT_ORDERS, _SELECT_LINES, _SELECT_CUSTOMERS, _SELECT_PRODUCTS)
"""The batch's reads of the rows it touches (ids as one array)."""


class _Batch:
    """One projector batch inside an open transaction on ``con``."""

    def __init__(
        self, con: psycopg.Connection[Any], name: str, expected: int, fault: FaultHook | None
    ) -> None:
        self._con = con
        self._name = name
        self._expected = expected
        self._fault = fault
        self._before: dict[str, tuple[str, str]] = {}
        """(customer_id, status) of every order as loaded: the count deltas start there."""

    def _step(self, step: str) -> None:
        if self._fault is not None:
            self._fault(step)

    def load(self, keys: ReadModelKeys) -> WorkingSet:
        con = self._con
        work = load_working_set(
            keys, lambda sql, ids: con.execute(sql, (sorted(ids),)), _SELECT_IN, self._before
        )
        self._step("loaded")
        return work

    def save(self, work: WorkingSet, new_checkpoint: int) -> None:
        con = self._con
        self._step("before_rows")
        with con.cursor() as cur:
            if work.customer_renames:
                cur.executemany(
                    _RENAME_CUSTOMER,
                    [
                        (name, fold(name), cid)
                        for cid, name in sorted(work.customer_renames.items())
                    ],
                )
            if work.product_renames:
                cur.executemany(
                    _RENAME_PRODUCT,
                    [(name, pid) for pid, name in sorted(work.product_renames.items())],
                )
            if work.removed_lines:
                _many(cur, _DELETE_LINES, sorted(work.removed_lines))
            orders = work.orders
            # Sorted keys: two writers lock rows in one order (no deadlock between them).
            _many(cur, _UPSERT_ORDER, [order_params(orders[k]) for k in sorted(work.dirty_orders)])
            self._step("orders_written")
            lines = work.lines
            _many(
                cur,
                _UPSERT_LINE,
                [line_params(lines[o][li]) for o, li in sorted(work.dirty_lines)],
            )
            customers = work.customers
            _many(
                cur,
                _UPSERT_CUSTOMER,
                [customer_params(customers[k]) for k in sorted(work.dirty_customers)],
            )
            if work.former_names:
                cur.executemany(
                    _INSERT_FORMER_NAME,
                    sorted({(cid, fold(name)) for cid, name in work.former_names}),
                )
            products = work.products
            _many(
                cur,
                _UPSERT_PRODUCT,
                [product_params(products[k]) for k in sorted(work.dirty_products)],
            )
            self._save_counts(cur, work)
        self._step("rows_written")
        moved = con.execute(_CAS_CHECKPOINT, (new_checkpoint, self._name, self._expected))
        if moved.rowcount != 1:
            actual = con.execute(_GET_CHECKPOINT, (self._name,)).fetchone()
            raise CheckpointConflictError(
                self._name, self._expected, int(actual[0]) if actual else 0
            )
        con.execute(_NOTIFY, (str(new_checkpoint),))
        self._step("checkpoint_written")

    def _save_counts(self, cur: psycopg.Cursor[Any], work: WorkingSet) -> None:
        deltas: dict[tuple[str, str], int] = {}
        before = self._before
        orders = work.orders
        for key in work.dirty_orders:
            order = orders[key]
            new = (order.customer_id, order.status)
            old = before.get(key)
            if old == new:
                continue
            if old is not None:
                deltas[old] = deltas.get(old, 0) - 1
            deltas[new] = deltas.get(new, 0) + 1
            before[key] = new
        changes = [(cid, status, n) for (cid, status), n in sorted(deltas.items()) if n]
        if changes:
            _many(cur, _COUNTS_ADD, changes)
            if any(n < 0 for _, _, n in changes):
                cur.execute(_COUNTS_PRUNE)


def _many(cur: psycopg.Cursor[Any], sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run a set-based statement (:func:`_set_based`) with ``rows`` as one array per
    column."""
    if rows:
        cur.execute(sql, [list(column) for column in zip(*rows, strict=True)])


class PostgresProjectionTarget:
    """The read-model tables of an Order Desk database on a server, as the projector writes
    them (see the module)."""

    def __init__(self, database: PostgresDatabase, *, fault: FaultHook | None = None) -> None:
        self._db = database
        self.fault = fault
        self._lease: Lease = lease_of(database)
        self._token: str | None = None
        """This process's owner token while this target holds the read model (R33)."""
        self._token_lock = threading.Lock()

    @property
    def read_only(self) -> bool:
        """True when this open may not write (an auditor role, a newer server schema)."""
        return bool(self._db.read_only)

    # --- ownership (R33)

    def claim(self, name: str) -> bool:
        """Become (or stay) the one process projecting into these tables; False when
        another session holds the lock (see :mod:`desktop_app.store.postgres.lease`)."""
        with self._token_lock:
            token = self._token
            if token is not None:
                if self._lease.check(token):
                    return True
                self._token = None  # the lock's session was lost: take the lock again
            self._db.ensure_writable()
            taken = self._lease.acquire(name, host_name())
            if taken is None:
                return False
            return self._adopt(taken)

    def _adopt(self, taken: tuple[str, ReadModelOwner, bool]) -> bool:
        token, owner, new = taken
        if new:
            try:
                with self._transaction() as con:
                    con.execute(
                        _SET_META,
                        (projector_lease.OWNER_KEY, projector_lease.owner_row(token, owner)),
                    )
                    self._adopt_checkpoint(con, READ_MODEL_CHECKPOINT)
            except BaseException:
                self._lease.release(token)
                raise
            log.info("read model on %s: now projected by %s", self._db.where, owner.describe())
        self._token = token
        return True

    @staticmethod
    def _adopt_checkpoint(con: psycopg.Connection[Any], name: str) -> None:
        """ONE checkpoint per set of tables whatever the projector's name (as on a file)."""
        rows = con.execute("SELECT name, position FROM rm_checkpoints").fetchall()
        if len(rows) == 1 and rows[0][0] != name:
            con.execute("UPDATE rm_checkpoints SET name = %s", (name,))
        elif len(rows) > 1:
            log.warning("read model written by several projectors %s: projecting it again", rows)
            for sql in _DELETE_ALL:
                con.execute(sql)
            con.execute(_ENSURE_CHECKPOINT, (name,))

    def owner(self) -> ReadModelOwner | None:
        with self._db.raw() as con:
            row = con.execute(_GET_META, (projector_lease.OWNER_KEY,)).fetchone()
        parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
        return parsed[1] if parsed is not None else None

    def _check_owner(self, con: psycopg.Connection[Any]) -> None:
        """Inside a write transaction: raise unless this target's token is the recorded owner
        (the row stays share-locked until the commit: a new owner's claim waits for it)."""
        token = self._token
        row = con.execute(_OWNER_FOR_SHARE, (projector_lease.OWNER_KEY,)).fetchone()
        parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
        if token is not None and parsed is not None and parsed[0] == token:
            return
        if token is not None:  # the row names someone else: our lock was lost
            log.warning("read model on %s: ownership lost to %s", self._db.where, parsed)
            self._lease.discard(token)
            self._token = None
        raise NotReadModelOwnerError(parsed[1] if parsed is not None else None)

    def _release_ownership(self) -> None:
        with self._token_lock:
            token, self._token = self._token, None
        if token is None:
            self._lease.drop_idle()
            return
        if self._lease.release(token):
            try:  # a clean exit clears the row (a crash leaves it: the next owner replaces it)
                with self._transaction(check_writable=False) as con:
                    con.execute(
                        "DELETE FROM rm_meta WHERE key = %s AND value::jsonb ->> 'token' = %s",
                        (projector_lease.OWNER_KEY, token),
                    )
            except Exception:
                log.debug("owner row not cleared", exc_info=True)

    # --- schema

    def prepare(self) -> bool:
        """The tables are the owner's (``init``); here only the read model's stamp: rows
        projected by another read-model version are deleted and projected again (True)."""
        if self._db.read_only:
            return False
        with self._transaction() as con:
            row = con.execute(_GET_META + " FOR UPDATE", ("schema_version",)).fetchone()
            if row is not None and row[0] == str(READ_MODEL_SCHEMA_VERSION):
                return False
            reset = row is not None or bool(
                con.execute("SELECT 1 FROM rm_checkpoints LIMIT 1").fetchone()
            )
            if reset:
                for sql in _DELETE_ALL:
                    con.execute(sql)
            con.execute(_SET_META, ("schema_version", str(READ_MODEL_SCHEMA_VERSION)))
        return reset

    def reset(self, name: str) -> None:
        with self._transaction() as con:
            self._check_owner(con)
            for sql in _DELETE_ALL:
                con.execute(sql)
            con.execute(_ENSURE_CHECKPOINT, (name,))
            con.execute(_NOTIFY, ("0",))

    def begin_bulk(self) -> None:
        """Nothing to drop: the indexes are the owner's (a clerk may not drop them)."""
        with self._transaction() as con:
            self._check_owner(con)

    def end_bulk(self) -> None:
        """Recompute the per-(customer, status) counts from the rows (rows may have been
        written directly, as a benchmark's builder does)."""
        with self._transaction() as con:
            self._check_owner(con)
            con.execute("DELETE FROM rm_order_counts")
            con.execute(_COUNTS_FILL)

    def checkpoint(self, name: str) -> int:
        with self._db.raw() as con:
            row = con.execute(_GET_CHECKPOINT, (name,)).fetchone()
        return int(row[0]) if row else 0

    def data_version(self) -> int:
        """Changes when the log's head, the checkpoint or the owner row changes (one round
        trip; the listener wakes the projector at once, this is the poll's fallback)."""
        with self._db.raw() as con:
            row = con.execute(
                _DATA_VERSION, (READ_MODEL_CHECKPOINT, projector_lease.OWNER_KEY)
            ).fetchone()
        return hash(tuple(row) if row else ())

    def replace_all(
        self,
        name: str,
        work: WorkingSet,
        checkpoint: int,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Swap every row for ``work``'s at ``checkpoint`` in ONE transaction (see the
        module: readers see the old rows until the commit, commands are not held up)."""
        tables = _rebuild_rows(work)
        total = max(1, sum(len(rows) for _, rows in tables))
        done = 0
        step = max(1000, total // 100)
        if progress is not None:
            progress(0.0)
        with self._transaction() as con:
            self._check_owner(con)
            for sql in _DELETE_ALL:
                con.execute(sql)
            self._fault_step("replace_cleared")
            with con.cursor() as cur:
                for table, rows in tables:
                    if not rows:
                        continue
                    copy_sql = f"COPY {table} ({_COPY_COLUMNS[table]}) FROM STDIN"
                    with cur.copy(copy_sql) as copy:
                        for index, row in enumerate(rows, 1):
                            copy.write_row(row)
                            if progress is not None and index % step == 0:
                                progress(min(0.99, (done + index) / total))
                    done += len(rows)
            self._fault_step("replace_rows_written")
            con.execute(_ENSURE_CHECKPOINT, (name,))
            con.execute(
                "UPDATE rm_checkpoints SET position = %s WHERE name = %s", (checkpoint, name)
            )
            con.execute(_NOTIFY, (str(checkpoint),))
            self._fault_step("replace_swapped")
        if progress is not None:
            progress(1.0)
        self._fault_step("replace_done")

    def _fault_step(self, step: str) -> None:
        if self.fault is not None:
            self.fault(step)

    def close(self) -> None:
        """Give back ownership of the read model (if held)."""
        self._release_ownership()

    # --- transactions

    @contextmanager
    def _transaction(self, *, check_writable: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """A transaction on a pooled connection: committed on a clean exit, rolled back on
        an exception (a broken connection is dropped from the pool by ``raw``)."""
        if check_writable:
            self._db.ensure_writable()
        with self._db.raw(transaction=True) as con:
            try:
                yield con
                con.commit()
            except BaseException:
                with suppress(psycopg.Error):
                    con.rollback()
                raise

    @contextmanager
    def batch(self, name: str, expected_checkpoint: int) -> Iterator[_Batch]:
        with self._transaction() as con:
            self._check_owner(con)
            con.execute(_ENSURE_CHECKPOINT, (name,))
            row = con.execute(_LOCK_CHECKPOINT, (name,)).fetchone()
            actual = int(row[0]) if row else 0
            if actual != expected_checkpoint:
                raise CheckpointConflictError(name, expected_checkpoint, actual)
            yield _Batch(con, name, expected_checkpoint, self.fault)


def _rebuild_rows(work: WorkingSet) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Each table's rows of a full rebuild, in key order, as ``COPY`` takes them."""
    counts: dict[tuple[str, str], int] = {}
    orders = []
    for key in sorted(work.orders):
        order = work.orders[key]
        pair = (order.customer_id, order.status)
        counts[pair] = counts.get(pair, 0) + 1
        orders.append(order_params(order))
    lines = [
        line_params(line)
        for order_id in sorted(work.lines)
        for line in work.lines[order_id].values()
    ]
    customers = [customer_params(work.customers[k]) for k in sorted(work.customers)]
    former = sorted({(cid, fold(name)) for cid, name in work.former_names})
    products = [product_params(work.products[k]) for k in sorted(work.products)]
    return [
        ("rm_orders", orders),
        ("rm_order_lines", lines),
        ("rm_order_counts", [(c, s, n) for (c, s), n in sorted(counts.items())]),
        ("rm_customers", customers),
        ("rm_customer_names", former),
        ("rm_products", products),
    ]


__all__ = ["PostgresProjectionTarget"]
