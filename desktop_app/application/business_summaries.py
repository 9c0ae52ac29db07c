"""Events of an order told in business language (issue 11): lines named by product and SKU,
old → new quantities, and what each change did to the order's total.

``describe`` in :mod:`summaries` says what one event holds ("Removed line 1f839d73"); an event
alone cannot say more, because a removal or a quantity change names only the line's id. A
:class:`LineBook` follows the order through its history, so each change can be told as the
order document reads ("Clerk mug (MUG-01): 3 → 7, +18.00 EUR"). Internal ids appear only where
the history itself does not know the line (an event about a line that was never added).
Plain text: the UI formats for the locale, the CLI prints as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from desktop_app.application.summaries import describe
from desktop_app.domain import events as e


@dataclass(slots=True)
class _Line:
    name: str
    sku: str
    quantity: int
    unit_price: Decimal
    label: str = ""

    def __post_init__(self) -> None:
        self.label = f"{self.name} ({self.sku})"

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, kw_only=True, slots=True)
class BusinessChange:
    """One event told as the order document changes: ``text`` a one-line sentence,
    ``parts`` one entry per line touched, ``delta`` the change of the order's total (None
    when the event does not touch the lines)."""

    text: str
    parts: tuple[str, ...] = ()
    delta: Decimal | None = None
    total: Decimal = Decimal(0)
    currency: str = ""


@lru_cache(maxsize=4096)  # a long history repeats the same few deltas thousands of times
def money(amount: Decimal, currency: str, *, signed: bool = False) -> str:
    """``18.00 EUR`` (``+18.00 EUR`` when ``signed``): two decimals unless the amount has more."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        text = f"{amount:+,.2f}" if signed else f"{amount:,.2f}"
    else:
        text = f"{amount:+,}" if signed else f"{amount:,}"
    if signed and amount.is_zero():
        text = "±" + text[1:]
    return f"{text} {currency}" if currency else text


@dataclass(slots=True)
class LineBook:
    """The order's lines as its history has built them so far; :meth:`tell` describes an event
    against them and then applies it."""

    currency: str = ""
    lines: dict[str, _Line] = field(default_factory=dict)
    total: Decimal = Decimal(0)
    """The sum of the lines now (kept as the lines change: a 10,000-event history must not
    re-add every line per event)."""

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> LineBook:
        """A book holding an order's lines as its state dict has them (``Order.to_snapshot``),
        to tell the events that follow that state (a preview of a change)."""
        book = cls(currency=_text(state.get("currency")))
        found = state.get("lines")
        for line in found if isinstance(found, list) else ():
            if not isinstance(line, dict):
                continue
            quantity = line.get("quantity")
            entry = _Line(
                _text(line.get("product_name")),
                _text(line.get("sku")),
                quantity if isinstance(quantity, int) else 0,
                Decimal(str(line.get("unit_price", "0"))),
            )
            book.lines[str(line.get("line_id"))] = entry
            book.total += entry.total
        return book

    def tell(self, event: e.DomainEvent) -> BusinessChange:
        """``event`` in business language; the book then holds the state after it."""
        if type(event) is e.OrderLineQuantityChanged:
            # The bulk of a long history: no tuple of parts, no second pass over the totals.
            line = self.lines.get(event.line_id)
            if line is not None:
                old = line.quantity
                line.quantity = event.quantity
                delta = line.unit_price * (event.quantity - old)
                self.total += delta
                text = (
                    f"{line.label}: {old} → {event.quantity}, "
                    f"{money(delta, self.currency, signed=True)}"
                )
                return BusinessChange(
                    text=text, parts=(text,), delta=delta, total=self.total, currency=self.currency
                )
        before = self.total
        parts: tuple[str, ...] | None = None
        if isinstance(event, e.OrderPlaced):
            self.currency = event.currency
            text = describe(event)
        elif isinstance(event, e.OrderLineAdded):
            parts = (self._add(event),)
        elif isinstance(event, e.OrderLineRemoved):
            parts = (self._remove(event.line_id),)
        elif isinstance(event, e.OrderLineQuantityChanged):
            parts = (self._quantity(event.line_id, event.quantity),)
        elif isinstance(event, e.OrderLinesChanged):
            # The same order as Order.apply: removals, quantity changes, then additions.
            parts = tuple(
                [self._remove(line_id) for line_id in event.removed]
                + [self._quantity(q.line_id, q.quantity) for q in event.quantities]
                + [self._add(a) for a in event.added]
            )
        else:
            text = describe(event)
        after = self.total
        if parts is None:
            return BusinessChange(text=text, total=after, currency=self.currency)
        delta = after - before
        if isinstance(event, e.OrderLinesChanged):
            text = "Edited the lines: " + "; ".join(parts) if parts else "Edited the lines"
            if parts:
                text += f" ({money(delta, self.currency, signed=True)})"
        else:
            text = parts[0]
        return BusinessChange(
            text=text, parts=parts, delta=delta, total=after, currency=self.currency
        )

    def _add(self, added: e.OrderLineAdded | e.AddedLine) -> str:
        line = _Line(added.product_name, added.sku, added.quantity, added.unit_price.amount)
        replaced = self.lines.get(added.line_id)
        if replaced is not None:
            self.total -= replaced.total
        self.lines[added.line_id] = line
        self.total += line.total
        return (
            f"Added {line.label}: {line.quantity} × {money(line.unit_price, self.currency)}, "
            f"{money(line.total, self.currency, signed=True)}"
        )

    def _remove(self, line_id: str) -> str:
        line = self.lines.pop(line_id, None)
        if line is None:
            return f"Removed line {line_id[:8]} (not on the order)"
        self.total -= line.total
        return (
            f"Removed {line.label}: {line.quantity} × {money(line.unit_price, self.currency)}, "
            f"{money(-line.total, self.currency, signed=True)}"
        )

    def _quantity(self, line_id: str, quantity: int) -> str:
        line = self.lines.get(line_id)
        if line is None:
            return f"Quantity of line {line_id[:8]} (not on the order) to {quantity}"
        old = line.quantity
        line.quantity = quantity
        delta = line.unit_price * (quantity - old)
        self.total += delta
        return f"{line.label}: {old} → {quantity}, {money(delta, self.currency, signed=True)}"


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentRow:
    """One row of the order document before and after: a header field or a line.
    ``change`` is ``added``, ``removed``, ``changed`` or ``same``."""

    label: str
    before: str
    after: str
    change: str


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentDiff:
    """Two versions of an order read as the order document: header fields, then lines by
    product, then the total (with its change)."""

    header: tuple[DocumentRow, ...]
    lines: tuple[DocumentRow, ...]
    total: DocumentRow
    delta: Decimal


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _line_text(line: Mapping[str, object], currency: str) -> str:
    price = Decimal(str(line.get("unit_price", "0")))
    total = Decimal(str(line.get("line_total", "0")))
    return f"{line.get('quantity')} × {money(price, currency)} = {money(total, currency)}"


def _row(label: str, before: str, after: str) -> DocumentRow:
    if before == after:
        change = "same"
    elif not before:
        change = "added"
    elif not after:
        change = "removed"
    else:
        change = "changed"
    return DocumentRow(label=label, before=before, after=after, change=change)


def _header(state: Mapping[str, object]) -> list[tuple[str, str]]:
    """The document's header fields as (label, text)."""
    customer = state.get("customer")
    notes = state.get("notes")
    return [
        ("Status", _text(state.get("status")).replace("_", " ").capitalize()),
        ("Customer", _text(customer.get("name")) if isinstance(customer, dict) else ""),
        ("Ship to", " · ".join(_text(state.get("shipping_address")).splitlines())),
        ("Tracking number", _text(state.get("tracking_number"))),
        ("Carrier", _text(state.get("carrier"))),
        ("Cancel reason", _text(state.get("cancel_reason"))),
        ("Notes", str(len(notes)) if isinstance(notes, list) and notes else ""),
    ]


def document_diff(before: Mapping[str, object] | None, after: Mapping[str, object]) -> DocumentDiff:
    """The order document at two versions (``before`` None: before the order existed), from
    the aggregate's state dicts (``GetOrderAtVersion``): what a clerk would see on paper."""
    old: Mapping[str, object] = before or {}
    currency = _text(after.get("currency") or old.get("currency"))
    earlier = dict(_header(old)) if before is not None else {}
    header = tuple(_row(label, earlier.get(label, ""), now) for label, now in _header(after))

    def lines(state: Mapping[str, object]) -> dict[str, Mapping[str, object]]:
        found = state.get("lines")
        if not isinstance(found, list):
            return {}
        return {str(line["line_id"]): line for line in found if isinstance(line, dict)}

    old_lines, new_lines = lines(old), lines(after)
    rows = []
    for line_id in [*old_lines, *(k for k in new_lines if k not in old_lines)]:
        line = new_lines.get(line_id) or old_lines[line_id]
        label = f"{line.get('product_name')} ({line.get('sku')})"
        was = _line_text(old_lines[line_id], currency) if line_id in old_lines else ""
        now = _line_text(new_lines[line_id], currency) if line_id in new_lines else ""
        rows.append(_row(label, was, now))
    total_before = Decimal(str(old.get("total", "0"))) if before is not None else Decimal(0)
    total_after = Decimal(str(after.get("total", "0")))
    total = _row(
        "Total",
        money(total_before, currency) if before is not None else "",
        money(total_after, currency),
    )
    return DocumentDiff(
        header=header, lines=tuple(rows), total=total, delta=total_after - total_before
    )


def tell_history(events: list[e.DomainEvent]) -> list[BusinessChange]:
    """Every event of one order, in version order, in business language."""
    book = LineBook()
    return [book.tell(event) for event in events]


__all__ = [
    "BusinessChange",
    "DocumentDiff",
    "DocumentRow",
    "LineBook",
    "document_diff",
    "money",
    "tell_history",
]
