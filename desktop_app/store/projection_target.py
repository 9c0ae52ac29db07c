"""The projector's writes into the SQLite read model (implements ``ProjectionTarget``).

The tables are in the read model's own file (:mod:`desktop_app.store.read_model_file`); the
event file is only read here: the hash of the event at each new checkpoint (the binding,
written with the checkpoint) and its ``data_version`` (news for the projector).

Raw sqlite3 on a connection of the engine's pool is used on purpose: a projector batch reads its
rows with a few ``IN (SELECT value FROM json_each(?))`` queries and writes them back with
``executemany`` upserts, so a batch costs a handful of statements, not a few per event.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from desktop_app.application.ports import (
    READ_MODEL_CHECKPOINT,
    CheckpointConflictError,
    LineState,
    NotReadModelOwnerError,
    OrderState,
    ReadModelKeys,
    ReadModelOwner,
    StoreUnavailableError,
    WorkingSet,
)
from desktop_app.identity import host_name
from desktop_app.store import projector_lease, read_model_rebuild
from desktop_app.store.engine import Database, store_errors
from desktop_app.store.list_rules import fold
from desktop_app.store.read_model_file import (
    BOUND_TO_KEY,
    bind,
    binding_problem,
    database_id,
    event_hash,
)
from desktop_app.store.read_model_rebuild import Pacer, drop_leftovers, index_names
from desktop_app.store.read_model_sql import (
    BATCH_AUTOCHECKPOINT,
    CACHE_SIZE,
    CAS_CHECKPOINT,
    COUNTS_ADD,
    COUNTS_FILL,
    COUNTS_PRUNE,
    CREATE_FTS,
    CREATE_TABLES,
    DELETE_ALL,
    DELETE_LINE,
    DELETE_META,
    DROP_INDEX,
    DROP_TABLES,
    ENSURE_CHECKPOINT,
    FTS_DELETE_IN,
    FTS_DELETE_ROWID,
    FTS_FILL,
    FTS_INSERT_DOC,
    FTS_INSERT_IN,
    GET_CHECKPOINT,
    GET_META,
    INDEXES_BY_NAME,
    INSERT_FORMER_NAME,
    LIST_INDEX_DDL,
    ORDERS_OF_CUSTOMERS,
    PROJECTOR_INDEX_DDL,
    READ_MODEL_SCHEMA_VERSION,
    RENAME_CUSTOMER,
    RENAME_PRODUCT,
    RIDS_IN,
    SELECT_CUSTOMERS_IN,
    SELECT_LINES_IN,
    SELECT_ORDERS_IN,
    SELECT_PRODUCTS_IN,
    SEPARATOR,
    SET_META,
    UPSERT_CUSTOMER,
    UPSERT_LINE,
    UPSERT_ORDER,
    UPSERT_PRODUCT,
    FaultHook,
    customer_params,
    has_fts,
    json_ids,
    line_params,
    load_working_set,
    order_params,
    product_params,
    reset_fts,
)
from desktop_app.store.schema import (
    READ_MODEL_TABLES,
    other_index_name,
)

log = logging.getLogger("desktop_app.store.projection_target")


_SELECT_IN = (SELECT_ORDERS_IN, SELECT_LINES_IN, SELECT_CUSTOMERS_IN, SELECT_PRODUCTS_IN)
"""The batch's reads of the rows it touches (ids as one JSON array text)."""


_SearchKey = tuple[str, str, tuple[tuple[str, str], ...]]
"""What an order's search document is made of: number, customer name, (line id, SKU)s."""


def _search_doc(order: OrderState, lines: dict[str, LineState] | None) -> str:
    """An order's search document, as :data:`FTS_FILL` makes it from its rows: the folded
    number, customer name and line SKUs (in line-id order), each after char(31)."""
    doc = fold(order.order_number) + SEPARATOR + fold(order.customer_name)
    if lines:
        doc += "".join([SEPARATOR + fold(lines[k].sku) for k in sorted(lines)])
    return doc


def _search_key(order: OrderState, lines: dict[str, LineState] | None) -> _SearchKey:
    skus = tuple(sorted((line.line_id, line.sku) for line in lines.values())) if lines else ()
    return (order.order_number, order.customer_name, skus)


def _index_columns(con: sqlite3.Connection, name: str) -> list[str]:
    """The columns of an index as the file has it."""
    return [str(r[2]) for r in con.execute("SELECT * FROM pragma_index_info(?)", (name,))]


def _columns(index: str) -> list[str]:
    """The columns of an index as the schema defines it."""
    return [str(c.name) for c in INDEXES_BY_NAME[index].columns]


class _Batch:
    """One projector batch on an open ``BEGIN IMMEDIATE`` connection."""

    def __init__(
        self,
        con: sqlite3.Connection,
        name: str,
        expected: int,
        fault: FaultHook | None,
        bind_to: Callable[[sqlite3.Connection, int], None],
    ) -> None:
        self._con = con
        self._name = name
        self._expected = expected
        self._fault = fault
        self._bind = bind_to
        self._before: dict[str, tuple[str, str]] = {}
        """(customer_id, status) of every order as loaded: the count deltas start there."""
        self._searched: dict[str, _SearchKey] = {}
        """What each loaded order's search document is made of, as loaded."""

    def _step(self, step: str) -> None:
        if self._fault is not None:
            self._fault(step)

    def load(self, keys: ReadModelKeys) -> WorkingSet:
        con = self._con
        work = load_working_set(
            keys, lambda sql, ids: con.execute(sql, (json_ids(ids),)), _SELECT_IN, self._before
        )
        lines = work.lines
        self._searched = {
            order_id: _search_key(order, lines.get(order_id))
            for order_id, order in work.orders.items()
        }
        self._step("loaded")
        return work

    def save(self, work: WorkingSet, new_checkpoint: int) -> None:
        con = self._con
        self._step("before_rows")
        if work.customer_renames:
            con.executemany(
                RENAME_CUSTOMER,
                [(name, fold(name), cid) for cid, name in work.customer_renames.items()],
            )
        if work.product_renames:
            con.executemany(
                RENAME_PRODUCT, [(name, pid) for pid, name in work.product_renames.items()]
            )
        if work.removed_lines:
            con.executemany(DELETE_LINE, sorted(work.removed_lines))
        orders = work.orders
        con.executemany(UPSERT_ORDER, [order_params(orders[k]) for k in work.dirty_orders])
        self._step("orders_written")
        lines = work.lines
        con.executemany(UPSERT_LINE, [line_params(lines[o][li]) for o, li in work.dirty_lines])
        customers = work.customers
        con.executemany(
            UPSERT_CUSTOMER, [customer_params(customers[k]) for k in work.dirty_customers]
        )
        if work.former_names:
            con.executemany(
                INSERT_FORMER_NAME, [(cid, fold(name)) for cid, name in work.former_names]
            )
        products = work.products
        con.executemany(UPSERT_PRODUCT, [product_params(products[k]) for k in work.dirty_products])
        self._save_counts(work)
        self._save_search(work)
        self._step("rows_written")
        moved = con.execute(CAS_CHECKPOINT, (new_checkpoint, self._name, self._expected))
        if moved.rowcount != 1:
            actual = con.execute(GET_CHECKPOINT, (self._name,)).fetchone()
            raise CheckpointConflictError(
                self._name, self._expected, int(actual[0]) if actual else 0
            )
        self._bind(con, new_checkpoint)
        self._step("checkpoint_written")

    def _save_counts(self, work: WorkingSet) -> None:
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
            self._con.executemany(COUNTS_ADD, changes)
            if any(n < 0 for _, _, n in changes):
                self._con.execute(COUNTS_PRUNE)

    def _save_search(self, work: WorkingSet) -> None:
        """Rewrite the search documents whose text may have changed: those of new orders and
        of loaded orders whose number, customer name or line SKUs differ from when loaded,
        and those of every order of a renamed customer. A status change, a new quantity or a
        product's new name leaves an order's document as it is (most of a day's events)."""
        con = self._con
        touched = set(work.dirty_orders)
        touched.update(order_id for order_id, _ in work.dirty_lines)
        touched.update(order_id for order_id, _ in work.removed_lines)
        searched, orders, lines = self._searched, work.orders, work.lines
        new: set[str] = set()
        changed: set[str] = set()
        for order_id in touched:
            order = orders.get(order_id)
            before = searched.get(order_id)
            if before is None:
                (new if order is not None else changed).add(order_id)
            elif order is None or _search_key(order, lines.get(order_id)) != before:
                changed.add(order_id)
        if work.customer_renames:
            rows = con.execute(ORDERS_OF_CUSTOMERS, (json_ids(list(work.customer_renames)),))
            changed.update(str(r[0]) for r in rows)
            changed.difference_update(new)
        if not (new or changed) or not has_fts(con):
            return
        # The documents of the orders in the working set are made here from its rows (as a
        # rebuild makes them), for their rids only: SQLite's own making of them (a lookup of
        # each order and its lines) cost twice the inserts. The others (orders of a renamed
        # customer that no event of the batch touched) are made by SQLite from their rows.
        known = [order_id for order_id in (new | changed) if order_id in orders]
        if known:
            rids = dict(con.execute(RIDS_IN, (json_ids(known),)).fetchall())
            rewritten = [(rids[order_id],) for order_id in known if order_id in changed]
            if rewritten:
                con.executemany(FTS_DELETE_ROWID, rewritten)
            con.executemany(
                FTS_INSERT_DOC,
                [(rids[k], _search_doc(orders[k], lines.get(k))) for k in known],
            )
            changed.difference_update(known)
        if changed:
            con.execute(FTS_DELETE_IN, (json_ids(changed),))
            con.execute(FTS_INSERT_IN, (json_ids(changed),))


class SqliteProjectionTarget:
    """The read-model tables in their own SQLite file, as the projector writes them.

    ``database`` is the read model's file; ``events`` the event file it is made from (read
    only: the binding's hashes, the news).
    """

    def __init__(
        self,
        database: Database,
        *,
        events: Database,
        fault: FaultHook | None = None,
    ) -> None:
        self._db = database
        self._events = events
        self.fault = fault
        self._events_id: str | None = None
        self._kept: sqlite3.Connection | None = None
        self._kept_fairy: Any = None
        self._kept_events: sqlite3.Connection | None = None
        self._kept_events_fairy: Any = None
        self._kept_lock = threading.Lock()
        # One pooled connection runs every batch, whichever scheduler thread runs it: its
        # 32 MB cache stays warm, and there is one such cache, not one per worker thread (each
        # thread keeps its own pooled connection otherwise: P5's memory grew by ~75 MB).
        self._batch_fairy: Any = None
        self._batch_con: sqlite3.Connection | None = None
        self._batch_lock = threading.Lock()
        self._token: str | None = None
        """This process's owner token while this store holds the read model (R33)."""
        self._checkpointer: read_model_rebuild.Checkpointer | None = None
        """The last rebuild's WAL checkpoint, maybe still running."""

    @property
    def read_only(self) -> bool:
        """True when the read model's file is open read-only."""
        return bool(self._db.read_only)

    @property
    def database(self) -> Database:
        """The read model's file."""
        return self._db

    def _bind(self, con: sqlite3.Connection, position: int) -> None:
        """Inside the write transaction that sets the checkpoint to ``position``: record the
        log it belongs to (see :mod:`desktop_app.store.read_model_file`). The event's hash is
        read on the connection kept for :meth:`data_version` (no pool checkout per batch)."""
        with self._kept_lock, store_errors():
            ev = self._kept_events_connection()
            if self._events_id is None:
                self._events_id = database_id(ev)
            hash_ = event_hash(ev, position)
        bind(con, self._events_id, position, hash_)

    # --- ownership (R33): one process projects into these tables at a time

    def claim(self, name: str) -> bool:
        """Become (or stay) the one process projecting into these tables; False when another
        process holds them (see :mod:`desktop_app.store.projector_lease`)."""
        if self._token is not None:
            return True
        self._db.ensure_writable()
        try:
            taken = projector_lease.acquire(self._db.path, name, host_name())
        except OSError as exc:
            lock = projector_lease.lock_path(self._db.path)
            raise StoreUnavailableError(
                f"The lists cannot be brought up to date: {lock} could not be used "
                f"({exc.strerror or exc})."
            ) from exc
        if taken is None:
            return False
        token, owner, new = taken
        if new:
            try:
                with self._db.raw_write(hold=False) as con:
                    con.execute(
                        SET_META,
                        (projector_lease.OWNER_KEY, projector_lease.owner_row(token, owner)),
                    )
                    self._adopt_checkpoint(con, READ_MODEL_CHECKPOINT)
            except BaseException:
                projector_lease.release(self._db.path, token)
                raise
            log.info("read model of %s: now projected by %s", self._db.path, owner.describe())
        self._token = token
        if new:  # tables of a rebuild cut short by a crash: gone, in short steps
            with self._db.raw(hold=False) as con:
                drop_leftovers(Pacer(con))
        return True

    def _adopt_checkpoint(self, con: sqlite3.Connection, name: str) -> None:
        """One set of tables has ONE position, whatever the projector's name: a checkpoint row
        left under another name (before R33) becomes ``name``'s. Several rows mean the tables were
        written by several projectors (before R33): their rows cannot be trusted, so they are
        emptied and projected again from position 0."""
        rows = con.execute("SELECT name, position FROM rm_checkpoints").fetchall()
        if len(rows) == 1 and rows[0][0] != name:
            con.execute("UPDATE rm_checkpoints SET name = ?", (name,))
        elif len(rows) > 1:
            log.warning("read model written by several projectors %s: projecting it again", rows)
            for sql in DELETE_ALL:
                con.execute(sql)
            reset_fts(con)
            con.execute(ENSURE_CHECKPOINT, (name,))
            self._bind(con, 0)

    def owner(self) -> ReadModelOwner | None:
        with self._db.raw(hold=False) as con:
            row = con.execute(GET_META, (projector_lease.OWNER_KEY,)).fetchone()
        parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
        return parsed[1] if parsed is not None else None

    def _check_owner(self, con: sqlite3.Connection) -> None:
        """Inside a write transaction: raise unless this store's token is the recorded owner."""
        token = self._token
        row = con.execute(GET_META, (projector_lease.OWNER_KEY,)).fetchone()
        parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
        if token is not None and parsed is not None and parsed[0] == token:
            return
        if token is not None:  # the row says someone else: our lock was lost somehow
            log.warning("read model of %s: ownership lost to %s", self._db.path, parsed)
            projector_lease.discard(token)
            self._token = None
        raise NotReadModelOwnerError(parsed[1] if parsed is not None else None)

    def _release_ownership(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        if projector_lease.release(self._db.path, token):
            try:  # a clean exit clears the row (a crash leaves it: the next owner replaces it)
                with self._db.raw_write(hold=False) as con:
                    row = con.execute(GET_META, (projector_lease.OWNER_KEY,)).fetchone()
                    parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
                    if parsed is not None and parsed[0] == token:
                        con.execute(DELETE_META, (projector_lease.OWNER_KEY,))
            except Exception:
                log.debug("owner row not cleared", exc_info=True)

    # --- schema

    def prepare(self) -> bool:
        """Create missing tables; drop and recreate them when made by another schema version."""
        if self._db.read_only:
            return False
        with self._db.raw_write(hold=False) as con:
            names = {
                str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            reset = False
            if "rm_meta" in names:
                row = con.execute(
                    "SELECT value FROM rm_meta WHERE key = 'schema_version'"
                ).fetchone()
                if row is None or row[0] != str(READ_MODEL_SCHEMA_VERSION):
                    for ddl in DROP_TABLES:
                        con.execute(ddl)
                    reset = True
            elif names & set(READ_MODEL_TABLES):
                for ddl in DROP_TABLES:
                    con.execute(ddl)
                reset = True
            if not reset and "rm_meta" in names:
                # Made from another log (restored, replaced, copied): never shown (R35).
                with self._events.raw_read(hold=False) as ev:
                    problem = binding_problem(con, ev)
                if problem is not None:
                    log.warning("read model %s discarded and rebuilt: %s", self._db.path, problem)
                    for ddl in DROP_TABLES:
                        con.execute(ddl)
                    reset = True
            for ddl in CREATE_TABLES:
                con.execute(ddl)
            indexes = index_names(con)
            for index, ddl in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL):
                other = other_index_name(index)  # a rebuild's second name
                present = other if other in indexes else index if index in indexes else None
                if present is not None and _index_columns(con, present) != _columns(index):
                    # Made by an earlier definition: made again (seconds at a million rows,
                    # where a new read-model version would project every event again).
                    con.execute(f"DROP INDEX {present}")
                    present = None
                if present is None:
                    con.execute(ddl)
            if reset or "rm_order_search" not in names:
                try:
                    con.execute(CREATE_FTS)
                except sqlite3.OperationalError:  # no FTS5 in this SQLite: searches scan
                    pass
                else:
                    con.execute(FTS_FILL)  # rows made before the index existed (none if new)
            con.execute(
                "INSERT OR REPLACE INTO rm_meta (key, value) VALUES ('schema_version', ?)",
                (str(READ_MODEL_SCHEMA_VERSION),),
            )
            if reset or "rm_meta" not in names:
                self._bind(con, 0)
            elif con.execute(GET_META, (BOUND_TO_KEY,)).fetchone() is None:
                self._bind(con, self._checkpoint_on(con))
        return reset

    @staticmethod
    def _checkpoint_on(con: sqlite3.Connection) -> int:
        row = con.execute("SELECT max(position) FROM rm_checkpoints").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def reset(self, name: str) -> None:
        with self._db.raw_write(hold=False) as con:
            self._check_owner(con)
            for sql in DELETE_ALL:
                con.execute(sql)
            reset_fts(con)
            con.execute(ENSURE_CHECKPOINT, (name,))
            self._bind(con, 0)

    def begin_bulk(self) -> None:
        with self._db.raw_write(hold=False) as con:
            self._check_owner(con)
            for index in DROP_INDEX:
                con.execute(index)

    def end_bulk(self) -> None:
        """Recreate the list indexes and recompute the counts and the search index from the
        rows (rows may have been written directly, as the P5 benchmark's builder does)."""
        with self._db.raw_write(hold=False) as con:
            self._check_owner(con)
            for _, ddl in LIST_INDEX_DDL:
                con.execute(ddl)
            con.execute("DELETE FROM rm_order_counts")
            con.execute(COUNTS_FILL)
            if reset_fts(con):
                con.execute(FTS_FILL)
            con.execute("ANALYZE")

    def checkpoint(self, name: str) -> int:
        # On the batches' connection when it is free (the projector asks before every run: no
        # pool checkout then), else on a pooled one (never waits for a batch).
        if self._batch_lock.acquire(blocking=False):
            try:
                con = self._batch_con
                if con is not None:
                    with store_errors():
                        row = con.execute(GET_CHECKPOINT, (name,)).fetchone()
                    return int(row[0]) if row else 0
            finally:
                self._batch_lock.release()
        with self._db.raw(hold=False) as con:
            row = con.execute(GET_CHECKPOINT, (name,)).fetchone()
        return int(row[0]) if row else 0

    def replace_all(
        self,
        name: str,
        work: WorkingSet,
        checkpoint: int,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Swap the whole read model for ``work`` at ``checkpoint``: built whole in private
        databases, copied over the live file in one transaction (R34; see
        :func:`desktop_app.store.read_model_rebuild.replace_all`). The WAL checkpoint that
        follows runs on in a thread of its own, waited for by :meth:`close` (or the next
        rebuild)."""
        self._finish_checkpoint()
        self._checkpointer = read_model_rebuild.replace_all(
            self._db,
            self._check_owner,
            self._fault_step,
            name,
            work,
            checkpoint,
            progress,
            bind=self._bind,
        )

    def _finish_checkpoint(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.close()

    def _fault_step(self, step: str) -> None:
        if self.fault is not None:
            self.fault(step)

    def data_version(self) -> int:
        """Changes with every commit to the EVENT file by another connection (new events),
        and with every commit to the read model's file by another connection (another
        process's projector, followed here)."""
        with self._kept_lock, store_errors():
            if self._kept is None:
                fairy = self._db.engine.raw_connection()
                con = fairy.driver_connection
                assert isinstance(con, sqlite3.Connection)
                self._kept_fairy, self._kept = fairy, con
            events = int(
                self._kept_events_connection().execute("PRAGMA data_version").fetchone()[0]
            )
            tables = int(self._kept.execute("PRAGMA data_version").fetchone()[0])
        return (events << 32) + tables

    def _kept_events_connection(self) -> sqlite3.Connection:
        """The event file's connection kept by this store (call with ``_kept_lock`` held)."""
        if self._kept_events is None:
            fairy = self._events.engine.raw_connection()
            con = fairy.driver_connection
            assert isinstance(con, sqlite3.Connection)
            self._kept_events_fairy, self._kept_events = fairy, con
        return self._kept_events

    def close(self) -> None:
        """Give back ownership of the read model (if held) and the connection kept for
        ``data_version``."""
        self._finish_checkpoint()
        self._release_ownership()
        with self._kept_lock:
            fairy, self._kept_fairy, self._kept = self._kept_fairy, None, None
            kept_events = self._kept_events_fairy
            self._kept_events_fairy = self._kept_events = None
        for kept in (fairy, kept_events):
            if kept is not None:
                kept.close()
        with self._batch_lock:
            self._drop_batch_connection(discard=False)

    def _drop_batch_connection(self, *, discard: bool) -> None:
        fairy, self._batch_fairy, self._batch_con = self._batch_fairy, None, None
        if fairy is not None:
            with suppress(Exception):
                if discard:
                    fairy.invalidate()  # closed, never pooled: it may hold a transaction
                fairy.close()

    @contextmanager
    def _batch_connection(self) -> Iterator[sqlite3.Connection]:
        """The batches' own pooled connection inside ``BEGIN IMMEDIATE``; commits on success,
        rolls back on error (a connection that cannot roll back is dropped, never reused)."""
        self._db.ensure_writable()
        with self._batch_lock, store_errors():
            con = self._batch_con
            if con is None:
                fairy = self._db.engine.raw_connection()
                driver = fairy.driver_connection
                assert isinstance(driver, sqlite3.Connection)
                driver.execute(CACHE_SIZE)
                driver.execute(BATCH_AUTOCHECKPOINT)
                self._batch_fairy, self._batch_con = fairy, driver
                con = driver
            try:
                # Inside the try: a BEGIN that ran but whose reply was lost (an I/O error after
                # it) must not leave this kept connection holding the write lock (R22).
                con.execute("BEGIN IMMEDIATE")
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    with suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                if con.in_transaction:
                    self._drop_batch_connection(discard=True)
                raise

    @contextmanager
    def batch(self, name: str, expected_checkpoint: int) -> Iterator[_Batch]:
        with self._batch_connection() as con:
            self._check_owner(con)
            con.execute(ENSURE_CHECKPOINT, (name,))
            row = con.execute(GET_CHECKPOINT, (name,)).fetchone()
            actual = int(row[0]) if row else 0
            if actual != expected_checkpoint:
                raise CheckpointConflictError(name, expected_checkpoint, actual)
            yield _Batch(con, name, expected_checkpoint, self.fault, self._bind)
