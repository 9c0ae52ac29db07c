"""Commands: what a clerk asks the system to do (imperative, frozen, keyword-only).

Every command carries a ``command_id``; a form creates one when it opens, so pressing Save again
after a lost reply re-sends the same id and nothing is written twice. ``expected_version`` is the
version the clerk was looking at (None: whatever is current).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

# Re-exported: the forms make their command and entity ids with it.
from desktop_app.application.ids import new_id as new_id
from desktop_app.application.ports import Digest, Progress, RecordedRejection, VerifyResult
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry

R = TypeVar("R")


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """Base of all commands."""

    command_id: str = field(default_factory=new_id)
    correlation_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LineInput:
    """One order line as typed in a form. ``unit_price`` None means the catalog price."""

    product_id: str
    quantity: int
    unit_price: Decimal | None = None


# --- orders --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaceOrder(Command):
    """Create an order for a customer with one or more lines."""

    customer_id: str
    lines: tuple[LineInput, ...]
    currency: str | None = None  # None: the currency of the first product's price
    order_id: str = field(default_factory=new_id)
    shipping_address: str | None = None  # None or blank: the customer's default address


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderCommand(Command):
    """A command on an existing order."""

    order_id: str
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AddOrderLine(OrderCommand):
    """Add a product line to a pending order."""

    line: LineInput
    line_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoveOrderLine(OrderCommand):
    """Remove a line from a pending order."""

    line_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeLineQuantity(OrderCommand):
    """Change the quantity of a line of a pending order."""

    line_id: str
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LineRemoval:
    """A line to remove, in :class:`ChangeOrderLines`."""

    line_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class QuantityChange:
    """A line's new quantity, in :class:`ChangeOrderLines`."""

    line_id: str
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LineAddition:
    """A line to add, in :class:`ChangeOrderLines` (the form chooses its id)."""

    line: LineInput
    line_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeOrderLines(OrderCommand):
    """Edit a pending order's lines in one change (one event, one version): remove lines,
    change quantities, add lines; all of it or, when any change is refused, none."""

    remove: tuple[LineRemoval, ...] = ()
    change: tuple[QuantityChange, ...] = ()
    add: tuple[LineAddition, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ConfirmOrder(OrderCommand):
    """Confirm a pending order."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ShipOrder(OrderCommand):
    """Ship a confirmed order; a tracking number is required."""

    tracking_number: str
    carrier: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliverOrder(OrderCommand):
    """Mark a shipped order delivered."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelOrder(OrderCommand):
    """Cancel an order that is not yet delivered; a reason is required."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeShippingAddress(OrderCommand):
    """Give an order its own shipping address (allowed until it is shipped)."""

    address: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AddOrderNote(OrderCommand):
    """Add a note to an order at any status (the author is the event's metadata user)."""

    text: str
    note_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class AnnotateOrder(Command):
    """An auditor's note on an order (``target_version`` None) or on its event at
    ``target_version`` (issue 11). Recorded in the order's notes stream: the order itself does
    not change. ``corrects`` names an earlier note this one corrects (notes are never edited)."""

    order_id: str
    text: str
    target_version: int | None = None
    target_position: int | None = None
    """The annotated event by its log position instead of its version (give one at most)."""
    corrects: str | None = None
    note_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class DuplicateOrder(Command):
    """ "Order again": a new pending order for the same customer with the same products and
    quantities, at the catalog's current prices, shipping to the customer's current address."""

    source_order_id: str
    order_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class TakeSnapshot(OrderCommand):
    """Store a snapshot of the order's current state now (the inspector's button)."""


# --- catalog -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterCustomer(Command):
    """Add a customer to the catalog."""

    name: str
    customer_id: str = field(default_factory=new_id)
    address: str = ""  # the default shipping address; blank: none


@dataclass(frozen=True, kw_only=True, slots=True)
class RenameCustomer(Command):
    """Change a customer's name."""

    customer_id: str
    name: str
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeCustomerAddress(Command):
    """Set, change or (blank) clear a customer's default shipping address."""

    customer_id: str
    address: str
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AddProduct(Command):
    """Add a product with a SKU and a price."""

    sku: str
    name: str
    price: Decimal
    currency: str
    product_id: str = field(default_factory=new_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class RenameProduct(Command):
    """Change a product's name."""

    product_id: str
    name: str
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeProductPrice(Command):
    """Change a product's catalog price (existing orders keep theirs)."""

    product_id: str
    price: Decimal
    expected_version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DiscontinueProduct(Command):
    """Stop selling a product; it can no longer be added to orders."""

    product_id: str
    expected_version: int | None = None


# --- maintenance ---------------------------------------------------------------------------


class MaintenanceCommand(Generic[R]):
    """Base of the maintenance commands (Tools menu, admin CLI): they change the installation
    -- a backup file, the read-model tables -- not an aggregate, so they record no events and
    have no command id; ``R`` is the result type. Run with ``CommandBus.run_maintenance``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupNow(MaintenanceCommand[str]):
    """Take an online backup into the configured folder; returns the backup file's path."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RebuildReadModels(MaintenanceCommand[int]):
    """Drop and rebuild the read models from the first event; returns events applied.
    ``progress(done, total)`` is called from the caller's thread as it goes."""

    progress: Progress | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DigestExport:
    """What Export digest did: the verify it ran first and, when that held, the digest it
    saved (``digest`` None: nothing was written)."""

    path: str
    verify: VerifyResult
    digest: Digest | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportDigest(MaintenanceCommand[DigestExport]):
    """Verify the whole history (chain, replay, anchors) and, only when it holds, save the
    head it verified to the digest file ``path`` (kept elsewhere, it later shows whether the
    log was cut or rewritten). ``progress``/``cancel`` as for ``VerifyHistory``."""

    path: str
    progress: Progress | None = None
    cancel: Callable[[], bool] | None = None


ReportRenderer = Callable[
    [
        str,
        Sequence[tuple[str, str]],
        Sequence[str],
        Sequence[HistoryEntry],
        Sequence[AuditNoteEntry],
        Sequence[RecordedRejection],
    ],
    bytes,
]
"""``render(title, facts, notes, entries, annotations, refused) -> PDF bytes``: the audit
bundle's report (the auditors' notes beside their events, refused commands as grey lines)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditBundleExport:
    """A written audit bundle: where, how big, what it holds, and whether it passes the
    check it was read back with (``check_failure`` None: it passes)."""

    path: str
    order_number: str
    size: int
    events: int
    proof_events: int
    snapshots: int
    keyed: bool
    check_failure: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportAuditBundle(MaintenanceCommand[AuditBundleExport]):
    """Write the audit bundle of ``order_id`` to the file ``path`` (as ``desktop-app-admin
    audit-bundle``): its events, the chain proof to the head, its snapshots and a PDF report
    drawn by ``render`` (the caller's Qt). An existing file that is not a bundle is never
    overwritten."""

    order_id: str
    path: str
    render: ReportRenderer


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    """Where a command's events landed. ``duplicate``: the command id was seen before."""

    stream_id: str
    aggregate_id: str
    version: int
    first_position: int
    position: int
    duplicate: bool = False
