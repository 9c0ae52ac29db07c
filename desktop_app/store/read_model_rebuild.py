"""A full rebuild's swap of the SQLite read model, built ASIDE in short write steps (R34).

Used by :class:`~desktop_app.store.projection_target.SqliteProjectionTarget`.
"""

from __future__ import annotations

import logging
import operator
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from desktop_app.application.ports import (
    LineState,
    OrderState,
    WorkingSet,
)
from desktop_app.store.engine import Database
from desktop_app.store.list_rules import fold
from desktop_app.store.read_model_sql import (
    ASIDE_TABLES,
    COUNTS_INSERT_T,
    INDEXES_BY_NAME,
    INSERT_FORMER_NAME_T,
    LIST_INDEX_DDL,
    LIVE_TABLES,
    PROJECTOR_INDEX_DDL,
    customer_params,
    has_fts,
    product_params,
)
from desktop_app.store.schema import (
    RETIRED_PREFIX,
    SEARCH_TABLE,
    aside_name,
    aside_table,
    create_index_sql,
    create_table_sql,
    fts_ddl,
    other_index_name,
    read_model_metadata,
    rm_checkpoints,
    rm_meta,
)

log = logging.getLogger("desktop_app.store.read_model_rebuild")

_order_fields = operator.attrgetter(
    "order_id",
    "order_number",
    "customer_id",
    "customer_name",
    "status",
    "line_count",
    "total_minor",
    "currency",
    "placed_at",
    "updated_at",
    "version",
    "last_position",
    "tracking_number",
    "carrier",
    "cancel_reason",
)
_line_fields = operator.attrgetter(
    "order_id",
    "line_id",
    "product_id",
    "sku",
    "product_name",
    "quantity",
    "unit_price_minor",
    "currency",
    "seq",
)


_by_key = operator.itemgetter(0)


# --- full rebuild: every row written once, into emptied tables, indexes built afterwards
# Parameters: the state's fields in declaration order, then the folds (see _order_rows). The
# rids are 1..n in key order: an empty table numbers its rows so, and the search documents
# (see _search_docs) use them as their rowids.
_INSERT_ORDER_T = """INSERT INTO {orders} (order_id, order_number, number_fold, customer_id,
    customer_name, customer_fold, status, line_count, total_minor, currency, placed_at,
    updated_at, version, last_position, tracking_number, carrier, cancel_reason)
    VALUES (?1, ?2, ?16, ?3, ?4, ?17, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"""
# The search documents: exactly FTS_FILL's text (number, customer and each line's SKU folds,
# the lines in line-id order, joined by char(31)), made here from the rows (see _search_docs).
_INSERT_SEARCH_T = "INSERT INTO {order_search} (rowid, doc) VALUES (?, ?)"
_SEPARATOR = "\x1f"
_RID_RANGE_T = "SELECT min(rid), max(rid) FROM {orders}"
# Parameters: the line's fields in declaration order, then the SKU fold (see _line_rows).
_INSERT_LINE_T = """INSERT INTO {order_lines} (order_id, line_id, product_id, sku, sku_fold,
    product_name, quantity, unit_price_minor, line_total_minor, currency, seq)
    VALUES (?1, ?2, ?3, ?4, ?10, ?5, ?6, ?7, ?6 * ?7, ?8, ?9)"""
_INSERT_CUSTOMER_T = """INSERT INTO {customers} (customer_id, name, name_fold, order_count,
    lifetime_value, version, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)"""
_INSERT_PRODUCT_T = """INSERT INTO {products} (product_id, sku, sku_fold, name, name_fold,
    price_minor, currency, discontinued, units_sold, version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_INSERT_ORDER = _INSERT_ORDER_T.format_map(LIVE_TABLES)
_INSERT_LINE = _INSERT_LINE_T.format_map(LIVE_TABLES)
_INSERT_CUSTOMER = _INSERT_CUSTOMER_T.format_map(LIVE_TABLES)
_INSERT_PRODUCT = _INSERT_PRODUCT_T.format_map(LIVE_TABLES)
_SET_CHECKPOINT = "INSERT INTO rm_checkpoints (name, position) VALUES (?, ?)"
_REBUILD_PRAGMAS = (
    "PRAGMA cache_size = -1048576",  # up to 1 GB: the new read model (~300 MB at 1M events)
    # and the index sorts stay in memory until the commit (no spilling into the WAL before)
    "PRAGMA temp_store = MEMORY",
    "PRAGMA threads = 2",  # CREATE INDEX may sort with a helper thread
    # The commit must not also copy the whole new read model into the database file: the
    # WAL job checkpoints it in the background (and journal_size_limit trims the WAL).
    "PRAGMA wal_autocheckpoint = 0",
)
_ANALYZE = (
    "ANALYZE rm_orders",
    "ANALYZE rm_order_lines",
    "ANALYZE rm_customers",
    "ANALYZE rm_products",
)
_RESTORE_PRAGMAS = (
    "PRAGMA analysis_limit = 0",
    "PRAGMA cache_size = -2000",
    "PRAGMA temp_store = DEFAULT",
    "PRAGMA threads = 0",
    "PRAGMA wal_autocheckpoint = 1000",
)
_SECURE_DELETE_FAST = "PRAGMA secure_delete = FAST"
"""During a rebuild: freed pages are not overwritten with zeros (where SQLite is built with
SECURE_DELETE, as Debian's is, every page of the dropped old read model and of the indexes
was written a second time, as zeros, into the WAL and then the file: measured ~70 % of the
drops' time). They only ever held read-model rows, made from the events in this same file,
so nothing is left readable that the file does not hold anyway; FAST still clears what it
can without extra writes, and the next rebuild reuses the pages."""
_SECURE_DELETE_RESTORE = {
    0: "PRAGMA secure_delete = OFF",
    1: "PRAGMA secure_delete = ON",
    2: "PRAGMA secure_delete = FAST",  # (a number sets only ON or OFF)
}
_SYNC_RESTORE = {2: "PRAGMA synchronous = FULL", 3: "PRAGMA synchronous = EXTRA"}
"""``PRAGMA synchronous`` values above NORMAL, which a full rebuild's commit lowers to NORMAL
(see :func:`replace_all`), and how to set them back."""
_WRITE_CHUNK = 50_000
"""Most rows per ``executemany`` in :func:`replace_all`."""
PACE_HOLD_SECONDS = 0.075
"""How long one write transaction of a rebuild aims to hold the write lock (R34). Steps are
sized by the time they held the lock (:meth:`Pacer.insert`): at 0.1 s a clerk's longest
command during a 100k-event rebuild rose from ~110 ms to ~160 ms (one round 388 ms on a
loaded machine); at 0.075 s it measured ~125-135 ms, with the same free time after each step
(see :meth:`Pacer.gap`) and so fewer, cheaper gaps than before."""


def _order_rows(
    orders: dict[str, OrderState], counts: dict[tuple[str, str], int]
) -> list[tuple[Any, ...]]:
    """:data:`_INSERT_ORDER` parameters in key order: the fields (one C-level attrgetter call)
    plus the two folds, repeated names folded once; counts orders per (customer, status).

    Rows are made in the dict's order (the order the rows were created in, so memory is read
    mostly in sequence: measured much faster than visiting them in key order) and sorted after.
    """
    folds: dict[str, str] = {}
    get = folds.get
    count = counts.get
    fields = _order_fields
    fold_text = fold
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for order in orders.values():
        row = fields(order)
        pair = (row[2], row[4])
        counts[pair] = count(pair, 0) + 1
        name = row[3]
        name_fold = get(name)
        if name_fold is None:
            name_fold = folds[name] = fold_text(name)
        append((*row, fold_text(row[1]), name_fold))
    rows.sort(key=_by_key)
    return rows


def _line_rows(
    lines: dict[str, dict[str, LineState]], skus: dict[str, str], rows: list[tuple[Any, ...]]
) -> Iterator[None]:
    """Fills ``rows`` with the :data:`_INSERT_LINE` parameters, orders in key order (each
    order's lines in its dict's order): the fields plus the SKU fold. Made in the dicts' order,
    then sorted (stable). A generator that pauses (yields) every :data:`_ROWS_PER_PIECE`
    orders, to run in a :class:`Pacer`'s free time; ``rows`` is complete once it is exhausted.

    Fills ``skus`` (order id -> the end of its search document: each line's SKU fold in
    line-id order, each after char(31)) on the way, see :func:`_search_docs`.
    """
    folds: dict[str, str] = {}
    get = folds.get
    fields = _line_fields
    fold_text = fold
    sep = _SEPARATOR
    append = rows.append
    piece = 0
    for order_id, order_lines in lines.items():
        if not order_lines:
            continue
        found: list[tuple[str, str]] = []
        for line in order_lines.values():
            row = fields(line)
            sku = row[3]
            sku_fold = get(sku)
            if sku_fold is None:
                sku_fold = folds[sku] = fold_text(sku)
            append((*row, sku_fold))
            found.append((row[1], sku_fold))
        if len(found) == 1:
            skus[order_id] = sep + found[0][1]
        else:
            found.sort()  # by line id (unique in an order): the lines' primary-key order
            skus[order_id] = sep + sep.join([sku_fold for _, sku_fold in found])
        piece += 1
        if piece == _ROWS_PER_PIECE:
            piece = 0
            yield
    rows.sort(key=_by_key)


_ROWS_PER_PIECE = 2000
"""Orders per piece of :func:`_line_rows` (a few ms each)."""


def _search_docs(
    order_rows: list[tuple[Any, ...]], skus: dict[str, str], docs: list[tuple[int, str]]
) -> Iterator[None]:
    """Fills ``docs`` with the :data:`_INSERT_SEARCH_T` parameters: each order's rid (1..n,
    the rows' order) and the document FTS_FILL's SQL would make of its rows (number fold,
    customer fold, then each line's SKU fold in line-id order, the order a scan of the lines'
    primary key gives; ``skus`` from :func:`_line_rows`), made here from the same values
    instead of a lookup of the lines per order under the write lock. A generator that pauses
    every :data:`_DOCS_PER_PIECE` orders, to run in a :class:`Pacer`'s free time; ``docs``
    is complete once it is exhausted."""
    sep = _SEPARATOR
    get = skus.get
    for start in range(0, len(order_rows), _DOCS_PER_PIECE):
        docs.extend(
            [
                (rid, row[15] + sep + row[16] + get(row[0], ""))
                for rid, row in enumerate(order_rows[start : start + _DOCS_PER_PIECE], start + 1)
            ]
        )
        yield


_DOCS_PER_PIECE = 10_000
"""Orders per piece of :func:`_search_docs` (a few ms each)."""


_SWAPPED = tuple(
    t.name for t in read_model_metadata.sorted_tables if t not in (rm_meta, rm_checkpoints)
)
"""The tables a rebuild replaces (and ``rm_order_search`` where there is one)."""
_CREATE_ASIDE = tuple(
    create_table_sql(aside_table(t))
    for t in read_model_metadata.sorted_tables
    if t.name in _SWAPPED
)
_GROWN_INDEXES = frozenset(
    ("rm_order_lines_product", "rm_orders_sstatus", "rm_orders_s_lines", "rm_orders_s_version")
)
"""Indexes a rebuild creates on the EMPTY aside tables and grows with the rows, instead of
building them in one long statement afterwards: rows go in by order id, and in these indexes
that order only appends at the end of a few ranges (a product's lines; a status, or a status
and a small count), so each paced step touches a few pages of them. Every other index would
be written all over by every step; those get one sort each once the rows are in."""
_LEFTOVERS = (
    "SELECT name FROM sqlite_master WHERE type = 'table' "
    "AND (name LIKE 'rmn\\_%' ESCAPE '\\' OR name LIKE 'rmo\\_%' ESCAPE '\\') "
    "AND name NOT LIKE '%\\_data' ESCAPE '\\' AND name NOT LIKE '%\\_idx' ESCAPE '\\' "
    "AND name NOT LIKE '%\\_docsize' ESCAPE '\\' "
    "AND name NOT LIKE '%\\_config' ESCAPE '\\' AND name NOT LIKE '%\\_content' ESCAPE '\\'"
)
_INDEXES_OF = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
)


def index_names(con: sqlite3.Connection) -> set[str]:
    """Every index in the file (live and aside)."""
    return {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def _aside_index(index: str, live: set[str]) -> str:
    """The index's CREATE on the aside table, under whichever of its two names is free."""
    name = other_index_name(index) if index in live else index
    made = INDEXES_BY_NAME[index]
    assert made.table is not None
    return create_index_sql(made, name=name, table=aside_table(made.table), if_not_exists=False)


def drop_leftovers(pacer: Pacer) -> None:
    """Drop aside / retired tables in short steps: each index, then each table."""
    with pacer.step():
        tables = [str(r[0]) for r in pacer.con.execute(_LEFTOVERS)]
    for table in tables:
        with pacer.step():
            indexes = [str(r[0]) for r in pacer.con.execute(_INDEXES_OF, (table,))]
        for index in indexes:
            with pacer.step():
                pacer.con.execute(f"DROP INDEX IF EXISTS {index}")
        with pacer.step():
            pacer.con.execute(f"DROP TABLE IF EXISTS {table}")


_BUSY_POLLS = (
    (0.001, 0.001),
    (0.003, 0.002),
    (0.008, 0.005),
    (0.018, 0.010),
    (0.033, 0.015),
    (0.053, 0.020),
    (0.128, 0.025),
    (0.228, 0.050),
)
"""(waited up to, polls every): SQLite's busy handler (sqliteDefaultBusyCallback); after
228 ms it polls every 100 ms."""


_EXHAUSTED = object()
_CHECKPOINT_AFTER = 1.0
"""Seconds of a rebuild's write steps between two passive checkpoints of the WAL."""


_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    """Passive WAL checkpoints on a connection of its own, in a helper thread: SQLite copies
    the rebuild's pages from the WAL into the file (holding no GIL, needing no write lock)
    while the rebuild goes on with its next steps, instead of in the rebuild's thread.

    :meth:`request` starts one (or one more, after the one running); :meth:`close` waits for
    the running one and ends the thread. Errors are ignored: a checkpoint that cannot be
    done now is done later by the WAL job.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._wanted = threading.Event()
        self._pending = False
        self._closing = False
        self.done = 0
        """Checkpoints run so far."""
        self._thread = threading.Thread(target=self._run, name="rebuild-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Checkpoint what the WAL holds now (soon, in the helper thread)."""
        self._pending = True
        self._wanted.set()

    def _run(self) -> None:
        try:
            with self._db.raw(hold=False) as con:
                while True:
                    self._wanted.wait()
                    self._wanted.clear()
                    if self._pending:  # (also one asked for just before close)
                        self._pending = False
                        with suppress(sqlite3.Error):
                            con.execute(_CHECKPOINT).fetchall()
                            self.done += 1
                    if self._closing:
                        return
        except Exception:  # no connection: the WAL job checkpoints instead
            log.debug("rebuild checkpointer stopped", exc_info=True)

    def close(self) -> None:
        """Wait for a running (or requested) checkpoint, then end the thread."""
        self._closing = True
        self._wanted.set()
        self._thread.join()


class Pacer:
    """Write transactions short enough, and far enough apart, that another process's command
    never waits long for the write lock while a rebuild writes (R34).

    A writer that finds the lock taken polls it (SQLite's busy handler) after 1, 2, 5, 10, 15,
    20, 25, 25, 25 ms, then every 50 ms, then every 100 ms. Each step here aims at
    :data:`PACE_HOLD_SECONDS`; after it the lock stays free for longer than the polling interval
    of a writer that waited that long (:meth:`gap`), so a waiting command gets in at its next
    poll: it waits about one step, never several. After every second or so of writing a
    passive WAL checkpoint is run (needs no write lock): in the free time, or by
    :attr:`checkpoint` (a :class:`Checkpointer`'s thread), so the WAL does not grow by the
    whole new read model and no command's commit has to checkpoint it.
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        hold: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.con = con
        self.hold = PACE_HOLD_SECONDS if hold is None else hold
        self._clock = clock
        self.longest = 0.0
        """The longest step so far (seconds): the longest a command could have waited."""
        self.last_held = 0.0
        """How long the last step held the write lock (seconds)."""
        self.checkpoint: Callable[[], None] | None = None
        """Starts a passive checkpoint elsewhere (see :class:`Checkpointer`); None: the pacer
        runs it on its own connection in the free time."""
        self._written = 0.0
        self.idle: Iterator[None] | None = None
        """Work that needs no lock, done a piece at a time (one ``next``) in the free time
        after each step instead of sleeping, at least one piece per step (see :meth:`step`);
        None once exhausted."""

    @staticmethod
    def gap(held: float) -> float:
        """Free time after holding the lock ``held`` seconds: longer than the polling interval
        of a writer that has waited that long (plus a margin for a busy machine)."""
        interval = 0.1
        for waited, step in _BUSY_POLLS:
            if held < waited:
                interval = step
                break
        return interval * 1.2 + 0.003

    @contextmanager
    def step(self) -> Iterator[None]:
        """One write transaction, then room for other writers."""
        con = self.con
        clock = self._clock
        con.execute("BEGIN IMMEDIATE")
        started = clock()
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        held = self.last_held = clock() - started
        self.longest = max(self.longest, held)
        free_until = clock() + self.gap(held)
        self._written += held
        if self._written >= _CHECKPOINT_AFTER:  # (it syncs the file: not after every step)
            self._written = 0.0
            checkpoint = self.checkpoint
            if checkpoint is not None:
                checkpoint()
            else:
                with suppress(sqlite3.Error):  # a busy checkpoint is no problem: the job does it
                    con.execute(_CHECKPOINT).fetchall()
        # The free time: the idle work first, at least one piece (the lock stays free while
        # it runs, possibly longer than the gap: only this rebuild waits for it), then sleep
        # what is left.
        idle = self.idle
        while idle is not None:
            if next(idle, _EXHAUSTED) is _EXHAUSTED:
                self.idle = idle = None
            elif clock() >= free_until:
                break
        rest = free_until - clock()
        if rest > 0:
            time.sleep(rest)

    def finish_idle(self) -> None:
        """Do whatever idle work is left, now."""
        idle, self.idle = self.idle, None
        if idle is not None:
            for _ in idle:
                pass

    def _size(self, per_item: float, low: int, high: int) -> int:
        return max(low, min(high, int(self.hold / per_item))) if per_item > 0 else high

    def insert(
        self,
        sql: str,
        rows: list[tuple[Any, ...]],
        advance: Callable[[float], None] | None,
    ) -> None:
        """``executemany`` in steps sized to the time budget (measured as it goes: by the time
        each step held the lock, not counting the free time after it)."""
        start, size = 0, 1000
        while start < len(rows):
            chunk = rows[start : start + size]
            with self.step():
                self.con.executemany(sql, chunk)
            size = self._size(self.last_held / len(chunk), 100, _WRITE_CHUNK)
            start += len(chunk)
            if advance is not None:
                advance(len(chunk))


def replace_all(
    db: Database,
    check_owner: Callable[[sqlite3.Connection], None],
    fault_step: Callable[[str], None],
    name: str,
    work: WorkingSet,
    checkpoint: int,
    progress: Callable[[float], None] | None = None,
    *,
    bind: Callable[[sqlite3.Connection, int], None] | None = None,
) -> None:
    """Swap the whole read model for ``work`` at ``checkpoint``, never holding the write
    lock for long (R34: clerks' commands go on meanwhile). ``db`` is the read model's own
    file; ``bind(con, checkpoint)`` records its log in the swap's transaction (R35).

    The new tables are built ASIDE (``rmn_*``) in short write transactions with room for
    other writers between them (:class:`Pacer`): rows in primary-key order with plain
    INSERTs, then the search index, then each secondary index with one sort. Then ONE short
    transaction renames the live tables away (``rmo_*``) and the new ones in, and sets the
    checkpoint; the old tables are dropped afterwards, again in short steps. Readers see
    the old read model until the swap. A crash leaves at most leftover ``rmn_``/``rmo_``
    tables, which the next rebuild drops. ``progress(fraction)`` reports the write.
    """
    db.ensure_writable()
    with db.raw() as con:
        synchronous = int(con.execute("PRAGMA synchronous").fetchone()[0])
        secure_delete = int(con.execute("PRAGMA secure_delete").fetchone()[0])
        for pragma in _REBUILD_PRAGMAS:
            con.execute(pragma)
        con.execute(_SECURE_DELETE_FAST)
        if synchronous in _SYNC_RESTORE:
            # The commits do not wait for the new read model to reach the disk (seconds
            # of fsync at 1M events): after a power loss the OLD read model and checkpoint
            # are still there, consistent (WAL), and the projector catches up again. The
            # next FULL commit (or checkpoint) syncs these WAL frames too.
            con.execute("PRAGMA synchronous = NORMAL")
        pacer = Pacer(con)
        checkpointer = Checkpointer(db)
        pacer.checkpoint = checkpointer.request
        try:
            _replace_all(pacer, check_owner, fault_step, name, work, checkpoint, progress, bind)
            log.info("read model rebuilt aside; longest write step %.0f ms", pacer.longest * 1e3)
        finally:
            checkpointer.close()
            if con.in_transaction:
                with suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            for pragma in _RESTORE_PRAGMAS:
                con.execute(pragma)
            con.execute(_SECURE_DELETE_RESTORE.get(secure_delete, _SECURE_DELETE_RESTORE[1]))
            restore = _SYNC_RESTORE.get(synchronous)
            if restore is not None:
                con.execute(restore)


def _replace_all(
    pacer: Pacer,
    check_owner: Callable[[sqlite3.Connection], None],
    fault_step: Callable[[str], None],
    name: str,
    work: WorkingSet,
    checkpoint: int,
    progress: Callable[[float], None] | None,
    bind: Callable[[sqlite3.Connection, int], None] | None = None,
) -> None:
    # Estimated cost units (measured at 1M orders): a row insert 1, its search-index doc
    # about 3, each index build about 0.6 per order.
    n_orders = len(work.orders)
    n_lines = sum(len(lines) for lines in work.lines.values())
    indexes = len(PROJECTOR_INDEX_DDL) + len(LIST_INDEX_DDL)
    total = max(1.0, n_orders * (1 + 3 + 0.6 * indexes) + n_lines)
    done = 0.0

    def advance(units: float) -> None:
        nonlocal done
        done += units
        if progress is not None:
            progress(min(1.0, done / total))

    advance(0)
    con = pacer.con
    with pacer.step():
        check_owner(con)
        fts = has_fts(con)
    drop_leftovers(pacer)  # of a rebuild that crashed
    with pacer.step():
        for ddl in _CREATE_ASIDE:
            con.execute(ddl)
        if fts:
            con.execute(fts_ddl(aside_name(SEARCH_TABLE)))
        live = index_names(con)
        for index, _ in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL):
            if index in _GROWN_INDEXES:
                con.execute(_aside_index(index, live))
    fault_step("replace_cleared")
    counts: dict[tuple[str, str], int] = {}
    aside = ASIDE_TABLES
    order_rows = _order_rows(work.orders, counts)
    # The line rows are made while the orders are written, in the free time between steps.
    skus: dict[str, str] = {}
    line_rows: list[tuple[Any, ...]] = []
    pacer.idle = _line_rows(work.lines, skus, line_rows)
    pacer.insert(_INSERT_ORDER_T.format_map(aside), order_rows, advance)
    pacer.finish_idle()
    # The search documents are made while the lines are written (they need the SKUs).
    docs: list[tuple[int, str]] = []
    if fts:
        pacer.idle = _search_docs(order_rows, skus, docs)
    pacer.insert(_INSERT_LINE_T.format_map(aside), line_rows, advance)
    pacer.insert(
        COUNTS_INSERT_T.format_map(aside),
        [(c, s, n) for (c, s), n in sorted(counts.items())],
        None,
    )
    customers = work.customers
    pacer.insert(
        _INSERT_CUSTOMER_T.format_map(aside),
        [customer_params(customers[k]) for k in sorted(customers)],
        None,
    )
    pacer.insert(
        INSERT_FORMER_NAME_T.format_map(aside),
        sorted({(cid, fold(name)) for cid, name in work.former_names}),
        None,
    )
    products = work.products
    pacer.insert(
        _INSERT_PRODUCT_T.format_map(aside),
        [product_params(products[k]) for k in sorted(products)],
        None,
    )
    fault_step("replace_rows_written")
    pacer.finish_idle()  # the search documents, if not made yet
    if fts:
        # The documents' rowids are the rids 1..n in the rows' order (see _INSERT_ORDER_T).
        low, high = pacer.con.execute(_RID_RANGE_T.format_map(aside)).fetchone()
        if n_orders and (low, high) != (1, n_orders):
            raise RuntimeError(f"the new orders are numbered {low}..{high}, not 1..{n_orders}")
        pacer.insert(
            _INSERT_SEARCH_T.format_map(aside),
            docs,
            lambda n: advance(3 * n),
        )
    else:
        advance(3 * n_orders)
    for index, _ in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL):
        if index not in _GROWN_INDEXES:  # one sort each: the longest steps of a rebuild
            with pacer.step():
                con.execute(_aside_index(index, live))
        advance(0.6 * n_orders)
    fault_step("replace_aside")
    # The swap: renames only (no rows move), the checkpoint, the owner check.
    with pacer.step():
        check_owner(con)
        for table in (*_SWAPPED, *((SEARCH_TABLE,) if fts else ())):
            retired = RETIRED_PREFIX + table.removeprefix("rm_")
            con.execute(f"ALTER TABLE {table} RENAME TO {retired}")
            con.execute(f"ALTER TABLE {aside_name(table)} RENAME TO {table}")
        con.execute("DELETE FROM rm_checkpoints")
        con.execute(_SET_CHECKPOINT, (name, checkpoint))
        if bind is not None:
            bind(con, checkpoint)
    fault_step("replace_swapped")
    with pacer.step():  # statistics of the new tables, approximate, quickly
        con.execute("PRAGMA analysis_limit = 1000")
        for analyze in _ANALYZE:
            con.execute(analyze)
    drop_leftovers(pacer)  # the old tables, in short steps
    advance(total)
    fault_step("replace_done")
