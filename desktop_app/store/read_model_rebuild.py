"""A full rebuild of the SQLite read model: built whole in private databases, on both cores,
then copied over the live file in one transaction (R34).

Used by :class:`~desktop_app.store.projection_target.SqliteProjectionTarget`. The short paced
write steps (:class:`Pacer`) and :func:`drop_leftovers` remain for the tables that a rebuild of
an earlier version built aside in the live file and left there when it crashed.
"""

from __future__ import annotations

import dataclasses
import logging
import operator
import os
import queue
import sqlite3
import threading
import time
import uuid
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
    COUNTS_INSERT_T,
    CREATE_FTS,
    CREATE_TABLES,
    INDEXES_BY_NAME,
    INSERT_FORMER_NAME_T,
    LIST_INDEX_DDL,
    LIVE_TABLES,
    PROJECTOR_INDEX_DDL,
    SEPARATOR,
    SET_META,
    customer_params,
    has_fts,
    product_params,
)
from desktop_app.store.schema import (
    create_table_sql,
    rm_customer_names,
    rm_customers,
    rm_order_counts,
    rm_order_lines,
    rm_orders,
    rm_products,
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


# --- full rebuild: every row written once, into empty tables, indexes built afterwards
# Parameters: the state's fields in declaration order, then the folds (see _order_rows). The
# rids are 1..n in key order (an empty table numbers its rows so).
_INSERT_ORDER_T = """INSERT INTO {orders} (order_id, order_number, number_fold, customer_id,
    customer_name, customer_fold, status, line_count, total_minor, currency, placed_at,
    updated_at, version, last_position, tracking_number, carrier, cancel_reason)
    VALUES (?1, ?2, ?16, ?3, ?4, ?17, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"""
# Parameters: the line's fields in declaration order, then the SKU fold (see _line_rows).
_INSERT_LINE_T = """INSERT INTO {order_lines} (order_id, line_id, product_id, sku, sku_fold,
    product_name, quantity, unit_price_minor, line_total_minor, currency, seq)
    VALUES (?1, ?2, ?3, ?4, ?10, ?5, ?6, ?7, ?6 * ?7, ?8, ?9)"""
_INSERT_CUSTOMER_T = """INSERT INTO {customers} (customer_id, name, name_fold, order_count,
    lifetime_value, version, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)"""
_INSERT_PRODUCT_T = """INSERT INTO {products} (product_id, sku, sku_fold, name, name_fold,
    price_minor, currency, discontinued, units_sold, version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# The search documents: exactly FTS_FILL's text (number, customer and each line's SKU folds,
# the lines in line-id order, joined by SEPARATOR), made from the rows (see _search_docs); their
# rowids are the orders' rids.
_CREATE_DOCS = "CREATE TABLE docs (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL)"
_INSERT_DOC = "INSERT INTO docs (rid, doc) VALUES (?, ?)"
_FILL_SEARCH = "INSERT INTO rm_order_search (rowid, doc) SELECT rid, doc FROM docs.docs"
_RID_RANGE = "SELECT min(rid), max(rid) FROM rm_orders"
_INSERT_ORDER = _INSERT_ORDER_T.format_map(LIVE_TABLES)
_INSERT_LINE = _INSERT_LINE_T.format_map(LIVE_TABLES)
_INSERT_CUSTOMER = _INSERT_CUSTOMER_T.format_map(LIVE_TABLES)
_INSERT_PRODUCT = _INSERT_PRODUCT_T.format_map(LIVE_TABLES)
_SET_CHECKPOINT = "INSERT INTO rm_checkpoints (name, position) VALUES (?, ?)"
_ANALYZE = (
    "ANALYZE rm_orders",
    "ANALYZE rm_order_lines",
    "ANALYZE rm_customers",
    "ANALYZE rm_products",
)
_WRITE_CHUNK = 50_000
"""Most rows per ``executemany`` of a rebuild (progress is reported after each)."""


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
    lines: dict[str, dict[str, LineState]], skus: dict[str, str]
) -> list[tuple[Any, ...]]:
    """The :data:`_INSERT_LINE` parameters, orders in key order (each order's lines in its
    dict's order): the fields plus the SKU fold. Made in the dicts' order, then sorted
    (stable).

    Fills ``skus`` (order id -> the end of its search document: each line's SKU fold in
    line-id order, each after char(31)) on the way, see :func:`_search_docs`.
    """
    folds: dict[str, str] = {}
    get = folds.get
    fields = _line_fields
    fold_text = fold
    sep = SEPARATOR
    rows: list[tuple[Any, ...]] = []
    append = rows.append
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
    rows.sort(key=_by_key)
    return rows


def _search_docs(order_rows: list[tuple[Any, ...]], skus: dict[str, str]) -> list[tuple[int, str]]:
    """The :data:`_INSERT_DOC` parameters: each order's rid (1..n, the rows' order) and
    the document FTS_FILL's SQL would make of its rows (number fold, customer fold, then each
    line's SKU fold in line-id order, the order a scan of the lines' primary key gives;
    ``skus`` from :func:`_line_rows`), made here from the same values (measured: SQLite's
    lookup of each order's lines costs more than this and the rows' inserts together)."""
    sep = SEPARATOR
    get = skus.get
    return [
        (rid, row[15] + sep + row[16] + get(row[0], "")) for rid, row in enumerate(order_rows, 1)
    ]


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


def drop_leftovers(pacer: Pacer) -> None:
    """Drop aside / retired tables (``rmn_*``, ``rmo_*``: left in the live file by a rebuild of
    an earlier version that crashed) in short steps: each index, then each table."""
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
    """Write transactions far enough apart that another process's command never waits long
    for the write lock while leftovers of an older rebuild are dropped (R34; see
    :func:`drop_leftovers`).

    A writer that finds the lock taken polls it (SQLite's busy handler) after 1, 2, 5, 10, 15,
    20, 25, 25, 25 ms, then every 50 ms, then every 100 ms. After each step the lock stays free
    for longer than the polling interval of a writer that waited that long (:meth:`gap`), so a
    waiting command gets in at its next poll: it waits about one step, never several. After
    every second or so of writing a passive WAL checkpoint is run (it needs no write lock), so
    no command's commit has to checkpoint what the drops wrote.
    """

    def __init__(
        self, con: sqlite3.Connection, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.con = con
        self._clock = clock
        self._written = 0.0

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
        held = clock() - started
        free_until = clock() + self.gap(held)
        self._written += held
        if self._written >= _CHECKPOINT_AFTER:  # (it syncs the file: not after every step)
            self._written = 0.0
            with suppress(sqlite3.Error):  # a busy checkpoint is no problem: the job does it
                con.execute(_CHECKPOINT).fetchall()
        rest = free_until - clock()
        if rest > 0:
            time.sleep(rest)


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
) -> Checkpointer:
    """Swap the whole read model for ``work`` at ``checkpoint``. ``db`` is the read model's
    own file; ``bind(con, checkpoint)`` records its log in the new model (R35).

    The new read model is built whole in private temporary databases (no journal, no syncs,
    no other connection: nothing to wait for), on two threads (see :class:`_Build`).
    Then SQLite's backup API copies it over the live file in ONE write transaction of the read
    model's file (into its WAL): readers see the old read model until that commit, the new
    one after it, never a mixture; a crash or an error before the commit leaves the old read
    model whole, and nothing else behind (the private databases go with the process). Nobody
    waits for that transaction: commands only write the event file, and only the owner of the
    read model (this process, R33) writes its file (R34).

    ``progress(fraction)`` reports the work. ``work`` is emptied once its rows are built (it
    is made for this call alone). Returns the :class:`Checkpointer` that copies the new pages
    from the WAL into the file, still running: close it (it is waited for there).
    """
    db.ensure_writable()
    with db.raw() as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            check_owner(con)
            fts = has_fts(con)
            layout = _Layout.of(con)
        finally:
            con.execute("ROLLBACK")
        meter = _Meter(work, progress)
        build = _Build(layout)
        freeing: threading.Thread | None = None
        try:
            build.run(fault_step, name, work, checkpoint, fts, meter, bind)
            # Millions of objects, no longer needed: freed (~0.7 s at 1M events) on a thread
            # of its own while this one copies (which holds no GIL).
            freeing = threading.Thread(target=_empty, args=(work,), name="rebuild-free")
            freeing.start()
            # The swap. Only the read model's owner writes its file, and this process owns it
            # (an OS lock, R33): nobody can become the owner between this check and the copy.
            con.execute("BEGIN IMMEDIATE")
            try:
                check_owner(con)
            finally:
                con.execute("ROLLBACK")
            build.copy_into(con, meter, fault_step)
        finally:
            build.close()
            if freeing is not None:
                freeing.join()
    fault_step("replace_swapped")
    log.info("read model rebuilt: %d orders", meter.orders)
    checkpointer = Checkpointer(db)
    checkpointer.request()  # the whole new read model is in the WAL now
    meter.finish()
    fault_step("replace_done")
    return checkpointer


def _empty(work: WorkingSet) -> None:
    """Drop every row ``work`` holds (its dicts and sets emptied). One item at a time, not
    by ``clear()``: one C call that frees a million objects would hold the GIL throughout,
    and the copy's thread needs it between its steps."""
    for field in dataclasses.fields(work):
        value = getattr(work, field.name)
        if isinstance(value, dict):
            pop_item = value.popitem
            for _ in range(len(value)):
                pop_item()
        elif isinstance(value, set):
            pop = value.pop
            for _ in range(len(value)):
                pop()


class _Meter:
    """A rebuild's progress in estimated cost units (measured at 1M events): making a row
    0.5 and inserting it 1, its search-index document 0.5 and 3, each index build about 0.6
    per order, the copy 1 per order."""

    def __init__(self, work: WorkingSet, progress: Callable[[float], None] | None) -> None:
        self.orders = n_orders = len(work.orders)
        n_lines = sum(len(lines) for lines in work.lines.values())
        indexes = len(PROJECTOR_INDEX_DDL) + len(LIST_INDEX_DDL)
        self.total = max(1.0, n_orders * (1.5 + 3.5 + 0.6 * indexes + 1) + 1.5 * n_lines)
        self.done = 0.0
        self.elsewhere = 0.0
        """Units done by the other thread (set by this thread, from what it reports)."""
        self._progress = progress
        self.advance(0)

    def advance(self, units: float) -> None:
        """``units`` more done (by this thread)."""
        self.done += units
        if self._progress is not None:
            self._progress(min(1.0, (self.done + self.elsewhere) / self.total))

    def finish(self) -> None:
        """All done."""
        self.advance(self.total)


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What the new read model's database must share with the live file (the backup API
    copies pages, the header's fields included), and the live ``rm_meta`` rows it keeps."""

    page_size: int
    auto_vacuum: int
    app_id: int
    user_version: int
    meta: list[Any]

    @classmethod
    def of(cls, con: sqlite3.Connection) -> _Layout:
        """The live file's, read on ``con``."""

        def pragma(name: str) -> int:
            return int(con.execute(f"PRAGMA {name}").fetchone()[0])

        return cls(
            pragma("page_size"),
            pragma("auto_vacuum"),
            pragma("application_id"),
            pragma("user_version"),
            con.execute("SELECT key, value FROM rm_meta").fetchall(),
        )


_BUILD_PRAGMAS = (
    "PRAGMA journal_mode = OFF",  # nothing to roll back to: garbage until copied in whole
    "PRAGMA synchronous = OFF",
    "PRAGMA cache_size = -1048576",  # up to 1 GB: the new read model (~300 MB at 1M events)
    # and the index sorts stay in memory
    "PRAGMA temp_store = MEMORY",
)
_ORDERS_INDEX_DDL = tuple(
    ddl
    for index, ddl in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL)
    if INDEXES_BY_NAME[index].table is rm_orders
)
_OTHER_INDEX_DDL = tuple(
    ddl
    for index, ddl in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL)
    if INDEXES_BY_NAME[index].table is not rm_orders
)
_PART_TABLES = (rm_order_lines, rm_order_counts, rm_customers, rm_customer_names, rm_products)
"""The tables built in the second part (see :class:`_Build`)."""
_MOVE_T = "INSERT INTO main.{table} SELECT * FROM part.{table}"
_ATTACHED = ("part", "docs")
_COPY_STEPS = 16
"""Steps of the copy into the live file (progress is reported after each)."""


class _Worker:
    """Runs jobs, in order, in a thread of its own (a job's error skips the rest and is
    raised by :meth:`wait`)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.done = 0.0
        """Cost units of the jobs done so far (for the progress)."""
        self.stopped = False
        self.error: BaseException | None = None
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rebuild-part", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job()`` after the jobs submitted before it."""
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self.error is None and not self.stopped:
                try:
                    job()
                except BaseException as exc:  # handed to the waiting thread
                    self.error = exc

    def execute(self, sql: str, units: float) -> None:
        """One statement (a job's), then ``units`` done."""
        self.execute_with(sql, ())
        self.done += units

    def execute_with(self, sql: str, params: tuple[Any, ...]) -> None:
        """One statement with parameters (a job's)."""
        if self.stopped:
            raise sqlite3.OperationalError("interrupted")
        self.con.execute(sql, params)

    def wait(self, meter: _Meter) -> None:
        """Wait for every job submitted so far, reporting their progress; raise the error of
        one that failed."""
        finished = threading.Event()
        self.submit(finished.set)
        while not finished.wait(0.1):
            if not self._thread.is_alive():
                break
            meter.elsewhere = self.done
            meter.advance(0)
        meter.elsewhere = self.done
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the jobs (the running statement at once) and end the thread."""
        if self._thread.is_alive():
            self.stopped = True
            self.con.interrupt()
            self._jobs.put(None)
            self._thread.join()


def _index_orders(worker: _Worker, n_orders: int) -> None:
    """The worker's first job: the orders' indexes, one sort each."""
    for ddl in _ORDERS_INDEX_DDL:
        worker.execute(ddl, 0.6 * n_orders)


def _move_part(worker: _Worker, uri: str, n_orders: int) -> None:
    """The worker's last job: the second part's tables into the first, then their indexes
    (built here rather than by the calling thread, which has more to do before this)."""
    worker.execute_with("ATTACH DATABASE ? AS part", (uri,))
    for table in _PART_TABLES:
        worker.execute(_MOVE_T.format(table=table.name), 0)
    for ddl in _OTHER_INDEX_DDL:
        worker.execute(ddl, 0.6 * n_orders)


class _WalFlusher:
    """Writes a WAL's new pages to the disk now (``fdatasync``), a step of the copy at a
    time. The copy appends the whole new read model (~300 MB at 1M events) to the read
    model's WAL; left to the kernel, the first ``fsync`` of ANY file after it (a clerk's
    commit to the event file: ext4 commits its journal, which waits for the data of newly
    allocated blocks) waited for all of it: measured ~150-200 ms. Flushed after each step,
    it waits for one step's pages at most. Best effort: an error only skips the flush."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self._fd: int | None = None
        self._path: str | None = None
        for _, schema, file in con.execute("PRAGMA database_list").fetchall():
            if schema == "main" and file:
                self._path = f"{file}-wal"

    def flush(self) -> None:
        """``fdatasync`` the WAL (opened the first time)."""
        try:
            if self._fd is None and self._path is not None:
                self._fd = os.open(self._path, os.O_RDONLY)
            if self._fd is not None:
                os.fdatasync(self._fd)
        except OSError:
            log.debug("WAL not flushed", exc_info=True)
            self._path = None

    def close(self) -> None:
        """Close the WAL's descriptor."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _fill_search(worker: _Worker, uri: str, n_orders: int) -> None:
    """A worker's job: the search index from the documents' table (see :class:`_Build`)."""
    worker.execute_with("ATTACH DATABASE ? AS docs", (uri,))
    worker.execute(_FILL_SEARCH, 3 * n_orders)


def _memory_database(uri: str) -> sqlite3.Connection:
    """A private in-memory database the worker can attach (by ``uri``)."""
    con = sqlite3.connect(uri, uri=True, isolation_level=None)
    for pragma in _BUILD_PRAGMAS:
        con.execute(pragma).fetchall()
    return con


class _Build:
    """The new read model, built in two private databases on two threads, so that SQLite's
    long statements (which run without the GIL) overlap the Python work of making rows.

    The calling thread makes the rows and inserts them. First the orders go into the
    database that is copied in at the end; then a worker thread builds their nine indexes
    there (most of a rebuild's index sorts, one statement each) while this thread makes the
    lines and the search documents and builds the lines and the small tables in a second,
    in-memory database, and the documents in a third. The worker then fills the search index
    from the documents (one statement), moves the second database's tables in (one
    ``INSERT ... SELECT`` per table: SQLite copies the records as they are) and builds
    their indexes."""

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        con = sqlite3.connect("file:", uri=True, isolation_level=None, check_same_thread=False)
        self.con = con
        self._worker = _Worker(con)
        self._part_uri = f"file:rebuild-{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._part: sqlite3.Connection | None = None
        self._docs_uri = f"file:rebuild-{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._docs: sqlite3.Connection | None = None

    def run(
        self,
        fault_step: Callable[[str], None],
        name: str,
        work: WorkingSet,
        checkpoint: int,
        fts: bool,
        meter: _Meter,
        bind: Callable[[sqlite3.Connection, int], None] | None,
    ) -> None:
        """Build the new read model (committed in the private database)."""
        layout, con, worker = self.layout, self.con, self._worker
        for pragma in (
            f"PRAGMA page_size = {layout.page_size}",
            f"PRAGMA auto_vacuum = {layout.auto_vacuum}",
            *_BUILD_PRAGMAS,
            "PRAGMA locking_mode = EXCLUSIVE",
            f"PRAGMA application_id = {layout.app_id}",
            f"PRAGMA user_version = {layout.user_version}",
        ):
            con.execute(pragma).fetchall()
        con.execute("BEGIN")
        for ddl in CREATE_TABLES:
            con.execute(ddl)
        if fts:
            con.execute(CREATE_FTS)
        con.executemany(SET_META, layout.meta)
        part = self._part = _memory_database(self._part_uri)
        part.execute("BEGIN")
        for table in _PART_TABLES:
            part.execute(create_table_sql(table))
        fault_step("replace_cleared")

        def insert(
            into: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], per_row: float
        ) -> None:
            for begin in range(0, len(rows), _WRITE_CHUNK):
                chunk = rows[begin : begin + _WRITE_CHUNK]
                into.executemany(sql, chunk)
                meter.advance(per_row * len(chunk))

        counts: dict[tuple[str, str], int] = {}
        order_rows = _order_rows(work.orders, counts)
        n_orders = len(order_rows)
        meter.advance(0.5 * n_orders)
        insert(con, _INSERT_ORDER, order_rows, 1)
        # From here until the wait below the worker thread has ``con``.
        worker.submit(lambda: _index_orders(worker, n_orders))
        skus: dict[str, str] = {}
        line_rows = _line_rows(work.lines, skus)
        meter.advance(0.5 * len(line_rows))
        if fts:
            # Into a table of a third database, from which the worker fills the search index
            # in one statement: an ``executemany`` there would take turns at the GIL, row by
            # row, with this thread's own (measured: both ~2x slower).
            docs = self._docs = _memory_database(self._docs_uri)
            docs.execute(_CREATE_DOCS)
            docs.execute("BEGIN")
            docs.executemany(_INSERT_DOC, _search_docs(order_rows, skus))
            docs.execute("COMMIT")
            meter.advance(0.5 * n_orders)
            worker.submit(lambda: _fill_search(worker, self._docs_uri, n_orders))
        else:
            meter.advance(3.5 * n_orders)
        del order_rows, skus
        insert(part, _INSERT_LINE, line_rows, 1)
        del line_rows
        part.executemany(
            COUNTS_INSERT_T.format_map(LIVE_TABLES),
            [(c, s, n) for (c, s), n in sorted(counts.items())],
        )
        customers = work.customers
        part.executemany(
            _INSERT_CUSTOMER, [customer_params(customers[k]) for k in sorted(customers)]
        )
        part.executemany(
            INSERT_FORMER_NAME_T.format_map(LIVE_TABLES),
            sorted({(cid, fold(name)) for cid, name in work.former_names}),
        )
        products = work.products
        part.executemany(_INSERT_PRODUCT, [product_params(products[k]) for k in sorted(products)])
        part.execute("COMMIT")
        worker.submit(lambda: _move_part(worker, self._part_uri, n_orders))
        worker.wait(meter)
        # The worker is done: ``con`` is this thread's again.
        self._close_parts()
        low, high = con.execute(_RID_RANGE).fetchone()
        if n_orders and (low, high) != (1, n_orders):  # (the documents' rowids)
            raise RuntimeError(f"the new orders are numbered {low}..{high}, not 1..{n_orders}")
        fault_step("replace_rows_written")
        con.execute("DELETE FROM rm_checkpoints")
        con.execute(_SET_CHECKPOINT, (name, checkpoint))
        if bind is not None:
            bind(con, checkpoint)
        con.execute("PRAGMA analysis_limit = 1000")  # statistics, approximate, quickly
        for analyze in _ANALYZE:
            con.execute(analyze)
        con.execute("COMMIT")
        for schema in _ATTACHED:
            with suppress(sqlite3.OperationalError):  # (not attached: no search index)
                con.execute(f"DETACH DATABASE {schema}")
        fault_step("replace_aside")

    def copy_into(
        self, target: sqlite3.Connection, meter: _Meter, fault_step: Callable[[str], None]
    ) -> None:
        """Copy the new read model over ``target``'s database: the backup API, in steps (for
        the progress) of ONE write transaction, committed by the last step."""
        pages = int(self.con.execute("PRAGMA page_count").fetchone()[0])
        step = max(1, -(-pages // _COPY_STEPS))
        per_page = meter.orders / max(1, pages)
        paused = False
        wal = _WalFlusher(target)

        def copied(status: int, remaining: int, total: int) -> None:
            nonlocal paused
            wal.flush()
            if status == sqlite3.SQLITE_OK and not paused:
                paused = True  # part-way (not after the last step's commit)
                fault_step("replace_copying")
            meter.advance(per_page * min(step, total))

        try:
            self.con.backup(target, pages=step, progress=copied)
        finally:
            wal.close()

    def _close_parts(self) -> None:
        for part in (self._part, self._docs):
            if part is not None:
                with suppress(sqlite3.Error):
                    part.close()
        self._part = self._docs = None

    def close(self) -> None:
        """Stop the worker (if still running) and free the databases."""
        self._worker.close()
        self._close_parts()
        with suppress(sqlite3.Error):
            self.con.close()
