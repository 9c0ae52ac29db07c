"""Composition of the buses over any pair of stores: repositories -> handlers -> buses ->
middleware.

Application code only (no SQLAlchemy, no Qt, no clock, no I/O): the unit tests compose the real
buses over the in-memory stores with it, and ``desktop_app.bootstrap`` calls it after opening
the database and building the SQLite stores. Handlers are plain functions bound here to their
dependencies; nothing is looked up by reflection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

from desktop_app.application import annotations as an
from desktop_app.application import commands as c
from desktop_app.application import handlers as h
from desktop_app.application import ids
from desktop_app.application import queries as q
from desktop_app.application import read_handlers as rh
from desktop_app.application.buses import (
    CommandBus,
    CommandHandler,
    MaintenanceHandler,
    Middleware,
    Next,
    QueryBus,
    QueryHandler,
)
from desktop_app.application.middleware import default_chain, record_rejections
from desktop_app.application.ports import EventStore, RejectionLog, SnapshotStore
from desktop_app.application.preview import preview_query_handlers
from desktop_app.application.rejections import rejection_query_handlers
from desktop_app.application.repository import Repository, SnapshotPolicy
from desktop_app.domain.annotations import AuditNotes
from desktop_app.domain.catalog import Customer, Product
from desktop_app.domain.order import Order


class Composed(NamedTuple):
    """What :func:`compose` builds: the handlers' dependencies and the two buses."""

    deps: h.Deps
    commands: CommandBus
    queries: QueryBus


def command_handlers(deps: h.Deps) -> dict[type[c.Command], CommandHandler]:
    """One handler per command type, bound to its dependencies."""
    table: dict[type[c.Command], Callable[[h.Deps, Any], c.CommandResult]] = {
        c.PlaceOrder: h.place_order,
        c.AddOrderLine: h.add_order_line,
        c.RemoveOrderLine: h.remove_order_line,
        c.ChangeLineQuantity: h.change_line_quantity,
        c.ChangeOrderLines: h.change_order_lines,
        c.ConfirmOrder: h.confirm_order,
        c.ShipOrder: h.ship_order,
        c.DeliverOrder: h.deliver_order,
        c.CancelOrder: h.cancel_order,
        c.TakeSnapshot: h.take_snapshot,
        c.ChangeShippingAddress: h.change_shipping_address,
        c.AddOrderNote: h.add_order_note,
        c.DuplicateOrder: h.duplicate_order,
        c.ChangeCustomerAddress: h.change_customer_address,
        c.RegisterCustomer: h.register_customer,
        c.RenameCustomer: h.rename_customer,
        c.AddProduct: h.add_product,
        c.RenameProduct: h.rename_product,
        c.ChangeProductPrice: h.change_product_price,
        c.DiscontinueProduct: h.discontinue_product,
    }
    return {kind: partial(handler, deps) for kind, handler in table.items()}


def query_handlers(deps: h.Deps) -> dict[type[q.Query[Any]], QueryHandler]:
    """One handler per query type answered from the event store, bound to its dependencies."""
    table: dict[type[q.Query[Any]], Callable[[h.Deps, Any], Any]] = {
        q.GetOrderHistory: h.get_order_history,
        q.GetOrderAtVersion: h.get_order_at_version,
        q.GetOrderDiff: h.get_order_diff,
        q.ListOrderSnapshots: h.list_order_snapshots,
        q.GetOrderSnapshot: h.get_order_snapshot,
        q.VerifyOrderSnapshot: h.verify_order_snapshot,
        q.GetOrderActions: h.get_order_actions,
        q.GetOrderShipping: h.get_order_shipping,
        q.GetCustomerAddress: h.get_customer_address,
    }
    return {kind: partial(handler, deps) for kind, handler in table.items()}


def read_query_handlers(deps: rh.ReadDeps) -> dict[type[q.Query[Any]], QueryHandler]:
    """The read-model queries (lists, one order, projector status, wait)."""
    return {kind: partial(handler, deps) for kind, handler in rh.READ_HANDLERS.items()}


def wake_after_commit(wake: Callable[[], None]) -> Middleware:
    """Tell the projector at once when a command wrote something (not for duplicates)."""

    def middleware(command: c.Command, next: Next) -> c.CommandResult:
        result = next(command)
        if not result.duplicate:
            wake()
        return result

    return middleware


def compose(
    events: EventStore,
    snapshots: SnapshotStore,
    *,
    identity: h.Identity,
    snapshot_interval: int = 50,
    new_id: Callable[[], str] = ids.new_id,
    read: rh.ReadDeps | None = None,
    wake: Callable[[], None] | None = None,
    queries: Mapping[type[q.Query[Any]], QueryHandler] | None = None,
    maintenance: Mapping[type[c.MaintenanceCommand[Any]], MaintenanceHandler] | None = None,
    rejections: RejectionLog | None = None,
) -> Composed:
    """Wire repositories, handlers and buses over a pair of stores.

    ``identity`` goes into every event's metadata. Optional parts: ``read`` the read side (its
    queries and the rebuild command), ``wake`` called after every command that wrote (the
    projector's wake-up), ``queries`` and ``maintenance`` further handlers of the caller's
    (store information, verify, backup), ``rejections`` the rejection log (every refused
    command is recorded there, outermost in the chain, and its queries are answered). A type
    handled twice is refused (``ValueError``).
    """
    policy = SnapshotPolicy(interval=snapshot_interval)
    deps = h.Deps(
        events=events,
        snapshots=snapshots,
        orders=Repository(Order, events, snapshots, new_event_id=new_id, policy=policy),
        customers=Repository(Customer, events, snapshots, new_event_id=new_id, policy=policy),
        products=Repository(Product, events, snapshots, new_event_id=new_id, policy=policy),
        identity=identity,
        new_id=new_id,
        order_numbers=h.OrderNumbers(events),
    )
    # Auditors' notes: their own streams and repository (the handlers' Deps stay the order
    # desk's); bound here like every other handler.
    notes = Repository(AuditNotes, events, snapshots, new_event_id=new_id, policy=policy)
    handlers = command_handlers(deps)
    handlers[c.AnnotateOrder] = partial(an.annotate_order, deps, notes)
    chain: list[Middleware] = list(default_chain(events))
    if wake is not None:
        chain.insert(0, wake_after_commit(wake))
    if rejections is not None:
        # Outermost: the shape checker's refusals are seen too, duplicates are not refusals.
        chain.insert(0, record_rejections(rejections, identity))
    operations: dict[type[c.MaintenanceCommand[Any]], MaintenanceHandler] = {}
    query_bus = QueryBus(query_handlers(deps))
    query_bus.register_all({q.GetOrderNotes: partial(an.get_order_notes, deps)})
    query_bus.register_all(preview_query_handlers(deps))
    if rejections is not None:
        query_bus.register_all(rejection_query_handlers(rejections))
    if read is not None:
        query_bus.register_all(read_query_handlers(read))
        operations[c.RebuildReadModels] = partial(rh.rebuild_read_models, read)
    if queries:
        query_bus.register_all(queries)
    if maintenance:
        clash = set(maintenance) & set(operations)
        if clash:
            raise ValueError(f"commands already handled: {sorted(t.__name__ for t in clash)}")
        operations.update(maintenance)
    command_bus = CommandBus(handlers, chain, operations)
    return Composed(deps=deps, commands=command_bus, queries=query_bus)


__all__ = [
    "Composed",
    "command_handlers",
    "compose",
    "query_handlers",
    "read_query_handlers",
    "wake_after_commit",
]
