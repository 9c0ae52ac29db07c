"""Queries (``Get…``/``List…``) and their frozen result rows.

``Query[R]`` names its result type so ``QueryBus.ask`` is typed. History, snapshots and state at
version N come from the event store; lists and searches come from the read model.

Over 500 lines on purpose: every query and its frozen result row, read in one place by the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

from desktop_app.application.ports import (
    Digest,
    EventMetadata,
    JsonObject,
    JsonValue,
    Progress,
    RecordedRejection,
    SnapshotInfo,
    StoreInfo,
    VerifyResult,
)

# The read model's row types are the query results themselves (one order row type from the
# store to the screens); re-exported here, where the screens import their results from.
from desktop_app.application.ports import OrderDetail as OrderDetail
from desktop_app.application.ports import OrderLineRow as OrderLineRow
from desktop_app.application.ports import OrderRow as OrderRow

if TYPE_CHECKING:  # the audit view's result; its module is imported on the first such query
    from desktop_app.application.audit_timeline import OrderAudit  # noqa: F401 (a string below)

# Covariant: a query for a list of rows is also a query for an iterable of them (what
# ``tuple(queries.ask(q))`` asks mypy to solve); ``Query`` only names its result.
R = TypeVar("R", covariant=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Query(Generic[R]):
    """Base of all queries; ``R`` is the result type."""


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEntry:
    """One event of an order's history, ready for the timeline and the CLI."""

    position: int
    version: int
    event_id: str
    type_name: str
    schema_version: int
    recorded_at: datetime
    metadata: EventMetadata
    payload: JsonObject
    summary: str
    prev_hash: str
    hash: str
    server_role: str | None = None
    """The database role that wrote the event, recorded by the server (a shared store on a
    PostgreSQL server); None in a file, which knows only the OS account in ``metadata``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AggregateState:
    """An aggregate's full state at one version, as the snapshot dict (readable, diffable)."""

    aggregate_id: str
    aggregate_type: str
    version: int
    state: JsonObject


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldChange:
    """One field that differs between two states; ``path`` like ``lines[2].quantity``."""

    path: str
    before: JsonValue
    after: JsonValue
    kind: str  # "changed", "added" or "removed"


@dataclass(frozen=True, kw_only=True, slots=True)
class StateDiff:
    """Field-by-field differences between two versions of one aggregate."""

    aggregate_id: str
    from_version: int
    to_version: int
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class SnapshotCheck:
    """Outcome of checking a snapshot against a replay of the events up to its version."""

    aggregate_id: str
    version: int
    usable: bool
    equal: bool
    differences: tuple[FieldChange, ...]
    problem: str | None = None


# --- queries over the event store ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderHistory(Query[list[HistoryEntry]]):
    """Every event of one order, in version order (never by time)."""

    order_id: str
    from_version: int = 1
    to_version: int | None = None
    type_names: frozenset[str] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderAtVersion(Query[AggregateState]):
    """The order's state right after event ``version`` (None: the current state)."""

    order_id: str
    version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderDiff(Query[StateDiff]):
    """Field-by-field diff of an order between two versions (0 means "before it existed")."""

    order_id: str
    from_version: int
    to_version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrderSnapshots(Query[list[SnapshotInfo]]):
    """The snapshots stored for an order, newest first."""

    order_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderSnapshot(Query[AggregateState | None]):
    """The state stored in one snapshot (None when missing or unreadable)."""

    order_id: str
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyOrderSnapshot(Query[SnapshotCheck]):
    """Compare a snapshot with the state rebuilt from events at its version."""

    order_id: str
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderNoteEntry:
    """A note on an order with who wrote it and when (from its event's metadata)."""

    note_id: str
    text: str
    version: int
    author: str
    host: str
    recorded_at: datetime | None


ADDRESS_FROM_ORDER = "order"
"""The order has its own address (given at placement or changed since)."""
ADDRESS_FROM_CUSTOMER = "customer"
"""The order has none of its own: this is the customer's CURRENT default address."""
ADDRESS_NONE = "none"
"""Neither the order nor its customer has an address."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderShipping:
    """Where an order ships and its notes. ``address_source`` is one of ``ADDRESS_FROM_ORDER``,
    ``ADDRESS_FROM_CUSTOMER`` (orders placed before addresses existed, or for a customer who
    had none then: they follow the customer's current one) or ``ADDRESS_NONE``."""

    order_id: str
    version: int
    address: str
    address_source: str
    notes: tuple[OrderNoteEntry, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderShipping(Query[OrderShipping]):
    """An order's shipping address (its own, else its customer's current one) and its notes."""

    order_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerAddress:
    """A customer's default shipping address ("" when none) at a version."""

    customer_id: str
    version: int
    address: str


@dataclass(frozen=True, kw_only=True, slots=True)
class GetCustomerAddress(Query[CustomerAddress]):
    """A customer's current default shipping address."""

    customer_id: str


# --- read-model rows (kept current by the projector) ---------------------------------------

T = TypeVar("T")

ORDER_SORT_COLUMNS = (
    "order_number",
    "customer_name",
    "status",
    "line_count",
    "total",
    "placed_at",
    "updated_at",
    "version",
)
"""The only columns the order list may be sorted by (an allow-list, never SQL text)."""

ORDER_DATE_COLUMNS = ("placed_at", "updated_at")
"""The times the order list may be filtered by: when placed, and the last change."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerRow:
    """A customer with order count and lifetime value (minor units per currency)."""

    customer_id: str
    name: str
    order_count: int
    lifetime_value: tuple[tuple[str, int], ...]  # ((currency, minor units), ...)
    version: int
    registered_at: datetime | None = None  # None when the read model does not know it


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductRow:
    """A product with its catalog price and units sold."""

    product_id: str
    sku: str
    name: str
    price_minor: int
    currency: str
    discontinued: bool
    units_sold: int
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[T]):
    """One page of a list. ``total`` is the count of all matching rows (None if not asked).
    ``next_after`` is an opaque keyset cursor for the following page (None at the end)."""

    rows: tuple[T, ...]
    total: int | None
    offset: int
    next_after: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectorStatus:
    """How current the read model is. ``lag`` = head - checkpoint."""

    checkpoint: int
    head: int
    lag: int
    events_per_second: float
    running: bool
    last_error: str | None = None
    failed_position: int | None = None
    updated_at: datetime | None = None
    read_only: bool = False
    """The read model cannot be written (read-only database): a lag cannot be caught up."""
    owner: str | None = None
    """Set when ANOTHER process projects into these tables (R33: one at a time): who it is.
    This process then only follows: its status reports that process's progress."""


# --- read-model queries --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrders(Query[Page[OrderRow]]):
    """Filter, search, sort and page the order list.

    ``search`` matches order number, customer name and SKU as a plain substring (wildcards are
    literal). ``date_from``/``date_to`` keep orders whose ``date_column`` lies in
    [from, to) (served by the status-first index of that time column). ``sort`` must be one of
    ``ORDER_SORT_COLUMNS``. Use ``after`` (keyset, from the previous page's ``next_after``) or
    ``offset`` paging.
    """

    statuses: frozenset[str] | None = None
    customer_id: str | None = None
    search: str | None = None
    sort: str = "placed_at"
    descending: bool = True
    offset: int = 0
    limit: int = 100
    after: str | None = None
    with_total: bool = True
    date_column: str = "placed_at"
    """Which time ``date_from``/``date_to`` bound: one of ``ORDER_DATE_COLUMNS``."""
    date_from: datetime | None = None
    """Inclusive lower bound (timezone-aware), None: no lower bound."""
    date_to: datetime | None = None
    """Exclusive upper bound (timezone-aware), None: no upper bound."""


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrder(Query[OrderDetail | None]):
    """One order's header and lines (None when the read model does not have it yet)."""

    order_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class FindOrderByNumber(Query[OrderRow | None]):
    """Look an order up by its human number, e.g. SO-000042."""

    order_number: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ListCustomers(Query[list[CustomerRow]]):
    """Customers by name; ``search`` is a plain substring of the name."""

    search: str | None = None
    limit: int = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class FindSimilarCustomers(Query[list[CustomerRow]]):
    """Customers whose name looks like ``name`` (the same but for case, accents, spacing or
    punctuation, or a small typo), closest first. ``exclude_customer_id`` leaves out the
    customer being renamed. A warning for the clerk, not a rule: it reads the read model."""

    name: str
    exclude_customer_id: str | None = None
    limit: int = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class ListProducts(Query[list[ProductRow]]):
    """Products by SKU; ``search`` is a plain substring of SKU or name."""

    search: str | None = None
    include_discontinued: bool = True
    limit: int = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class GetProjectorStatus(Query[ProjectorStatus]):
    """Checkpoint, head, lag, speed and last error of the projector."""


@dataclass(frozen=True, kw_only=True, slots=True)
class WaitForPosition(Query[bool]):
    """Block until the read model has reached ``position`` (read-your-writes); False on
    timeout. Not for the GUI thread."""

    position: int
    timeout_seconds: float = 5.0


# --- reports the GUI's Tools menu shows (backup and rebuild are maintenance commands) -------


@dataclass(frozen=True, kw_only=True, slots=True)
class GetStoreInfo(Query[StoreInfo]):
    """Where the database is and whether it is read-only (and why)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyHistory(Query[VerifyResult]):
    """Recompute the whole hash chain, then (unless ``chain_only``) replay every stream: every
    event legal in the state before it, every snapshot equal to the replay (R27).
    ``progress(done, total)`` is called from the caller's thread as it goes; ``cancel()``
    is asked between chunks, and True stops the check (the result says where)."""

    progress: Progress | None = None
    chain_only: bool = False
    cancel: Callable[[], bool] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DigestCheck:
    """The log checked against a saved digest: does it still extend it (``result.ok``)?"""

    path: str
    digest: Digest
    result: VerifyResult
    head_position: int
    """The log's head now (events added since the digest: ``head_position`` − its head)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckDigest(Query[DigestCheck]):
    """Read the digest file ``path`` and check that the log still extends it, then the whole
    chain. An unreadable file raises ``StoreError`` saying why."""

    path: str


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupReview:
    """A backup checked before a restore (stamps, triggers, integrity, chain, anchors): may
    it replace the database, and what would be given up?"""

    backup: str
    target: str
    ok: bool
    problem: str | None
    """Why it cannot be restored, in words (None when ``ok``)."""
    events: int
    """Events in the backup (its verified chain)."""
    taken_at: datetime | None
    """When the backup was taken (from its name; None for a file named otherwise)."""
    given_up: str | None = None
    """Set when anchors of the database reach beyond the backup: what a restore gives up."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReviewBackup(Query[BackupReview]):
    """Check the backup file ``path`` as a restore would, without changing anything."""

    path: str


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupOverview:
    """The backups of the open database: where, how many, the newest, the schedule."""

    folder: str
    count: int
    newest: datetime | None
    interval_hours: float
    """Scheduled backups are taken when the newest is this old (0: no scheduled backups)."""

    @property
    def next_due(self) -> datetime | None:
        """When the schedule takes the next backup (None: not scheduled; the past: soon)."""
        if self.interval_hours <= 0 or self.newest is None:
            return None
        return self.newest + timedelta(hours=self.interval_hours)


@dataclass(frozen=True, kw_only=True, slots=True)
class GetBackupOverview(Query[BackupOverview]):
    """The backups of the open database (a listing of the backup folder)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderActions:
    """Which actions an order allows now: action name -> None (allowed) or the reason it is
    not, in words for a disabled button's tooltip. Actions: add_line, remove_line,
    change_quantity, confirm, ship, deliver, cancel, change_address, add_note."""

    order_id: str
    version: int
    status: str
    refusals: tuple[tuple[str, str | None], ...]

    def why_not(self, action: str) -> str | None:
        """None when ``action`` is allowed, else the reason."""
        return dict(self.refusals).get(action, "Unknown action.")


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderActions(Query[OrderActions]):
    """The order's allowed actions, from the domain's own rules (the UI does not restate them)."""

    order_id: str


# --- the auditor's workbench (issue 11) ----------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrderRejections(Query[list[RecordedRejection]]):
    """Commands refused for one order (its grey markers), oldest first; ``after_id`` pages."""

    order_id: str
    after_id: int = 0
    limit: int = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class ListRejections(Query[list[RecordedRejection]]):
    """Commands refused in ``[since, until)`` (either open), by ``user`` when given, oldest
    first; ``after_id`` pages (the log-wide browser)."""

    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    after_id: int = 0
    limit: int = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditNoteEntry:
    """One auditor's note on an order, with who wrote it and when, and its corrections."""

    note_id: str
    order_id: str
    text: str
    target_version: int
    """0: the order as a whole; n: the order's event at version n."""
    order_version: int
    """The order's version when the note was written."""
    corrects: str | None
    """The note this one corrects, or None."""
    corrected_by: tuple[str, ...]
    """Later notes that correct this one (oldest first); empty when none."""
    position: int
    version: int
    """The note's version in the notes stream (``auditnotes-<order id>``)."""
    recorded_at: datetime
    metadata: EventMetadata


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderNotes(Query[list[AuditNoteEntry]]):
    """The auditors' notes on one order, oldest first (empty when there are none)."""

    order_id: str


RUN_MIN = 5
"""This many like commands in a row (or more) fold into one expandable run card."""


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderAudit(Query["OrderAudit"]):
    """One order's history grouped for the audit view; ``check`` also replays the rules and
    recomputes each event's hash and link (slower: on demand). Answered by
    :mod:`desktop_app.application.audit_timeline`, imported on the first such query."""

    order_id: str
    check: bool = False
    run_min: int = RUN_MIN
