"""Preview before a change (issue 11): what a command on an order would write, without writing.

``PreviewOrderCommand`` runs the command's own domain decision (``handlers.ORDER_DECISIONS``,
the function its handler runs) on a freshly loaded copy of the order, takes the pending events
and the state after them, and drops the copy: nothing is appended, cached or recorded. The
answer tells the events in business language and the order document before and after, or the
domain's refusal (its message and field) when the command would be refused. The command sent
afterwards is the same object, with the same ``expected_version``: a change by someone else in
between is caught by the store's optimistic concurrency, never applied silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop_app.application import commands as c
from desktop_app.application.business_summaries import DocumentDiff, LineBook, document_diff
from desktop_app.application.handlers import ORDER_DECISIONS, Deps
from desktop_app.application.middleware import check_shape
from desktop_app.application.queries import Query
from desktop_app.domain.errors import DomainError, InvalidValue


@dataclass(frozen=True, kw_only=True, slots=True)
class PreviewedEvent:
    """One event the command would write: its type and what it does, in business words."""

    type_name: str
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangePreview:
    """The outcome of a command, computed without writing.

    ``refusal`` (and ``field``) is the domain's reason when it would be refused; ``conflict``
    says the order is no longer at the command's ``expected_version`` (someone else changed it).
    """

    order_id: str
    version: int
    """The order's version the preview was computed on."""
    currency: str = ""
    events: tuple[PreviewedEvent, ...] = ()
    diff: DocumentDiff | None = None
    refusal: str | None = None
    field: str | None = None
    conflict: bool = False

    @property
    def allowed(self) -> bool:
        """True when the command would be accepted as it stands."""
        return self.refusal is None and not self.conflict


@dataclass(frozen=True, kw_only=True, slots=True)
class PreviewOrderCommand(Query[ChangePreview]):
    """What ``command`` would write on its order (one of ``ORDER_DECISIONS``'s types)."""

    command: c.OrderCommand


def preview_order_command(deps: Deps, query: PreviewOrderCommand) -> ChangePreview:
    """The handler of :class:`PreviewOrderCommand`: the domain decides, nothing is written."""
    command = query.command
    decide = ORDER_DECISIONS.get(type(command))
    if decide is None:
        raise InvalidValue(f"A {type(command).__name__} cannot be previewed.", field="command")
    try:
        check_shape(command)  # what the command bus refuses before any handler runs
        order = deps.orders.load(command.order_id)  # our own copy: never the cache's object
    except DomainError as exc:
        return ChangePreview(
            order_id=command.order_id, version=0, refusal=exc.message, field=exc.field
        )
    version = order.version
    expected = command.expected_version
    if expected is not None and expected != version:
        return ChangePreview(
            order_id=command.order_id,
            version=version,
            conflict=True,
            refusal=(
                f"The order was changed by someone else (you saw version {expected}, it is now "
                f"at version {version})."
            ),
        )
    before = order.to_snapshot()
    try:
        decide(deps, command, order)
    except DomainError as exc:
        return ChangePreview(
            order_id=command.order_id, version=version, refusal=exc.message, field=exc.field
        )
    pending = list(order.pending_events)  # looked at, never taken: the copy is dropped
    book = LineBook.from_state(before)
    events = tuple(
        PreviewedEvent(type_name=event.type_name, text=book.tell(event).text) for event in pending
    )
    return ChangePreview(
        order_id=command.order_id,
        version=version,
        currency=str(before.get("currency") or ""),
        events=events,
        diff=document_diff(before, order.to_snapshot()),
    )


def preview_query_handlers(deps: Deps) -> dict[type[Any], Any]:
    """The preview query bound to the handlers' dependencies, for the query bus."""

    def handler(query: PreviewOrderCommand) -> ChangePreview:
        return preview_order_command(deps, query)

    return {PreviewOrderCommand: handler}


__all__ = [
    "ChangePreview",
    "PreviewOrderCommand",
    "PreviewedEvent",
    "preview_order_command",
    "preview_query_handlers",
]
