"""Small builders that go through the command bus, as the GUI and CLI do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application import read_handlers as rh
from desktop_app.application.buses import CommandBus, QueryBus
from desktop_app.application.composition import compose
from desktop_app.application.handlers import Deps, Identity
from desktop_app.application.ports import RejectionLog
from desktop_app.identity import app_version, host_name, os_user
from desktop_app.projector.runner import Projector
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore
from desktop_app.store.memory_read_model import memory_read_model


def identity(source: str = "test") -> Identity:
    """This process's real identity, as the bootstrap records it."""
    return Identity(user=os_user(), host=host_name(), app_version=app_version(), source=source)


@dataclass(frozen=True, kw_only=True, slots=True)
class MemoryApp:
    """The real buses composed over the in-memory stores: no SQL, no SQLAlchemy."""

    events: InMemoryEventStore
    snapshots: InMemorySnapshotStore
    deps: Deps
    commands: CommandBus
    queries: QueryBus
    projector: Projector
    """Over the in-memory read side; not started: ``run_once`` brings the lists up to date."""


def memory_app(
    *,
    clock: Callable[[], datetime] | None = None,
    snapshot_interval: int = 50,
    source: str = "test",
    rejections: RejectionLog | None = None,
) -> MemoryApp:
    """A fresh desk over new in-memory stores."""
    events = InMemoryEventStore(clock=clock)
    snapshots = InMemorySnapshotStore(events, clock=clock)
    read_model = memory_read_model(events)
    projector = Projector(events, read_model.feed, read_model.target)
    deps, commands, queries = compose(
        events,
        snapshots,
        identity=identity(source),
        snapshot_interval=snapshot_interval,
        read=rh.ReadDeps(orders=read_model.queries, projector=projector),
        rejections=rejections,
    )
    return MemoryApp(
        events=events,
        snapshots=snapshots,
        deps=deps,
        commands=commands,
        queries=queries,
        projector=projector,
    )


class World:
    """A customer, two products and helpers to place and move orders."""

    def __init__(self, app: MemoryApp, *, like: World | None = None) -> None:
        """A new customer and catalog, or ``like``'s (the same desk opened again: SKUs are
        unique, so the catalog cannot be added twice)."""
        self.app = app
        if like is not None:
            self.customer, self.mug, self.pot = like.customer, like.mug, like.pot
            return
        self.customer = self.customer_named("Müller GmbH")
        self.mug = self.product("MUG-1", "Blue Mug", "4.50")
        self.pot = self.product("POT-2", "Tea Pot", "19.90")

    def send(self, command: c.Command) -> c.CommandResult:
        return self.app.commands.dispatch(command)

    def customer_named(self, name: str) -> str:
        command = c.RegisterCustomer(name=name)
        self.send(command)
        return command.customer_id

    def product(self, sku: str, name: str, price: str, currency: str = "EUR") -> str:
        command = c.AddProduct(sku=sku, name=name, price=Decimal(price), currency=currency)
        self.send(command)
        return command.product_id

    def place(self, *quantities: int) -> str:
        lines = tuple(
            c.LineInput(product_id=self.mug if i % 2 == 0 else self.pot, quantity=n)
            for i, n in enumerate(quantities or (2,))
        )
        command = c.PlaceOrder(customer_id=self.customer, lines=lines)
        self.send(command)
        return command.order_id

    def state(self, order_id: str, version: int | None = None) -> q.AggregateState:
        return self.app.queries.ask(q.GetOrderAtVersion(order_id=order_id, version=version))

    def line_ids(self, order_id: str) -> list[str]:
        return [str(line["line_id"]) for line in self.state(order_id).state["lines"]]

    def stream(self, order_id: str) -> str:
        return f"order-{order_id}"

    def version(self, order_id: str) -> int:
        return self.app.events.stream_version(self.stream(order_id))

    def head(self) -> int:
        return self.app.events.head_position()
