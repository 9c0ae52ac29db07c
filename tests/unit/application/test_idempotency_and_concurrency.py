"""Retried command ids write nothing twice; version conflicts; one automatic retry; metadata."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from desktop_app.application import commands as c
from desktop_app.application.buses import CommandBus
from desktop_app.application.composition import compose
from desktop_app.application.ports import (
    AppendResult,
    ConcurrencyError,
    EventStore,
    NewEvent,
    UniqueClaim,
)
from desktop_app.application.queries import GetOrderAtVersion
from desktop_app.domain.errors import RuleViolation
from desktop_app.identity import app_version, host_name, os_user
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore

from .helpers import MemoryApp, World, identity

# --- idempotency (R2) ----------------------------------------------------------------------


def assert_same(first: c.CommandResult, again: c.CommandResult) -> None:
    assert not first.duplicate
    assert again.duplicate
    assert (again.stream_id, again.aggregate_id, again.version) == (
        first.stream_id,
        first.aggregate_id,
        first.version,
    )
    assert (again.first_position, again.position) == (first.first_position, first.position)


def test_same_register_command_twice_writes_once(world: World) -> None:
    command = c.RegisterCustomer(name="Łódź Trading")
    first = world.send(command)
    head = world.head()
    assert_same(first, world.send(command))
    assert world.head() == head


def test_same_place_order_twice_writes_once(world: World, app: MemoryApp) -> None:
    command = c.PlaceOrder(
        customer_id=world.customer, lines=(c.LineInput(product_id=world.mug, quantity=1),)
    )
    first = world.send(command)
    head = world.head()
    assert_same(first, world.send(command))
    assert world.head() == head
    assert app.events.stream_version(f"order-{command.order_id}") == 2


def test_confirm_twice_with_same_id_is_a_duplicate(world: World) -> None:
    order_id = world.place(1)
    confirm = c.ConfirmOrder(order_id=order_id)
    first = world.send(confirm)
    head = world.head()
    assert_same(first, world.send(confirm))
    assert world.head() == head
    # A new command id asking the same thing is a real second request, and refused.
    with pytest.raises(RuleViolation):
        world.send(c.ConfirmOrder(order_id=order_id))


def test_duplicate_after_the_state_moved_on(world: World) -> None:
    order_id = world.place(1)
    confirm = c.ConfirmOrder(order_id=order_id)
    first = world.send(confirm)
    world.send(c.ShipOrder(order_id=order_id, tracking_number="1Z999"))
    head = world.head()
    assert_same(first, world.send(confirm))
    assert world.head() == head
    assert world.state(order_id).state["status"] == "shipped"


def test_duplicate_that_would_succeed_again_writes_nothing(world: World, app: MemoryApp) -> None:
    rename = c.RenameCustomer(customer_id=world.customer, name="Müller AG")
    first = world.send(rename)
    world.send(c.RenameCustomer(customer_id=world.customer, name="Müller & Söhne AG"))
    head = world.head()
    assert_same(first, world.send(rename))  # would be a valid rename again, but is a re-send
    assert world.head() == head
    names = [e.payload["name"] for e in app.events.read_stream(f"customer-{world.customer}")]
    assert names == ["Müller GmbH", "Müller AG", "Müller & Söhne AG"]


def test_add_line_resent_adds_one_line(world: World) -> None:
    order_id = world.place(1)
    add = c.AddOrderLine(order_id=order_id, line=c.LineInput(product_id=world.pot, quantity=2))
    assert_same(world.send(add), world.send(add))
    assert len(world.line_ids(order_id)) == 2


# --- expected version ----------------------------------------------------------------------


def test_stale_expected_version_raises_concurrency_error(world: World) -> None:
    order_id = world.place(1)
    line = world.line_ids(order_id)[0]
    world.send(c.ChangeLineQuantity(order_id=order_id, line_id=line, quantity=4))
    head = world.head()
    with pytest.raises(ConcurrencyError) as caught:
        world.send(c.ConfirmOrder(order_id=order_id, expected_version=2))
    assert (caught.value.expected, caught.value.actual) == (2, 3)
    assert "changed by someone else" in str(caught.value)
    assert world.head() == head
    world.send(c.ConfirmOrder(order_id=order_id, expected_version=3))
    assert world.state(order_id).state["status"] == "confirmed"


def test_expected_version_on_catalog_commands(world: World) -> None:
    world.send(c.RenameProduct(product_id=world.mug, name="Mug", expected_version=1))
    with pytest.raises(ConcurrencyError):
        world.send(c.ChangeProductPrice(product_id=world.mug, price=Decimal(5), expected_version=1))
    with pytest.raises(ConcurrencyError):
        world.send(c.RenameCustomer(customer_id=world.customer, name="Y", expected_version=7))


# --- one automatic retry on a conflict -----------------------------------------------------


class InterferingEventStore:
    """A real store in front of which another writer appends to a stream just before our
    append: the append then conflicts, as when a second clerk saves between our load and save.
    Everything else is delegated untouched."""

    def __init__(self, inner: InMemoryEventStore) -> None:
        self.inner = inner
        self.attempts = 0
        self._stream = ""
        self._times = 0
        self._interfere: Callable[[], object] = lambda: None

    def arm(self, stream_id: str, interfere: Callable[[], object], times: int = 1) -> None:
        self._stream, self._interfere, self._times, self.attempts = stream_id, interfere, times, 0

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        command_id: str | None = None,
        claims: Sequence[UniqueClaim] = (),
        fingerprint: str | None = None,
    ) -> AppendResult:
        if stream_id == self._stream:
            self.attempts += 1
            if self._times > 0:
                self._times -= 1
                self._interfere()
        return self.inner.append(
            stream_id,
            expected_version,
            events,
            command_id=command_id,
            claims=claims,
            fingerprint=fingerprint,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TwoClerks:
    def __init__(self) -> None:
        inner = InMemoryEventStore()
        snapshots = InMemorySnapshotStore(inner)
        self.store = InterferingEventStore(inner)
        proxy: EventStore = self.store  # type: ignore[assignment]
        _, self.ours, _ = compose(proxy, snapshots, identity=identity("ours"))
        _, self.theirs, queries = compose(inner, snapshots, identity=identity("theirs"))
        self.queries = queries
        self.events = inner
        customer = c.RegisterCustomer(name="Café Olé")
        product = c.AddProduct(sku="TEA-1", name="Tea", price=Decimal("8.50"), currency="EUR")
        place = c.PlaceOrder(
            customer_id=customer.customer_id,
            lines=(
                c.LineInput(product_id=product.product_id, quantity=1),
                c.LineInput(product_id=product.product_id, quantity=2),
            ),
        )
        for command in (customer, product, place):
            self.theirs.dispatch(command)
        self.order_id = place.order_id
        self.stream = f"order-{place.order_id}"
        state = queries.ask(GetOrderAtVersion(order_id=place.order_id)).state
        self.lines = [str(line["line_id"]) for line in state["lines"]]

    def their_change(self, quantity: int) -> Callable[[], object]:
        bus: CommandBus = self.theirs
        return lambda: bus.dispatch(
            c.ChangeLineQuantity(order_id=self.order_id, line_id=self.lines[1], quantity=quantity)
        )

    def types_and_sources(self) -> list[tuple[str, str]]:
        return [(e.type_name, e.metadata.source) for e in self.events.read_stream(self.stream)]


def test_conflict_is_retried_once_when_no_version_was_pinned() -> None:
    clerks = TwoClerks()
    clerks.store.arm(clerks.stream, clerks.their_change(7))
    ours = c.ChangeLineQuantity(order_id=clerks.order_id, line_id=clerks.lines[0], quantity=5)
    result = clerks.ours.dispatch(ours)
    assert clerks.store.attempts == 2
    assert result.version == 5 and not result.duplicate
    assert clerks.types_and_sources()[-2:] == [
        ("OrderLineQuantityChanged", "theirs"),
        ("OrderLineQuantityChanged", "ours"),
    ]


def test_conflict_is_not_retried_when_the_clerk_pinned_a_version() -> None:
    clerks = TwoClerks()
    clerks.store.arm(clerks.stream, clerks.their_change(7))
    pinned = c.ChangeLineQuantity(
        order_id=clerks.order_id, line_id=clerks.lines[0], quantity=5, expected_version=3
    )
    with pytest.raises(ConcurrencyError):
        clerks.ours.dispatch(pinned)
    assert clerks.store.attempts == 1
    assert clerks.events.stream_version(clerks.stream) == 4  # only their change


def test_only_one_retry() -> None:
    clerks = TwoClerks()
    both = _sequence(clerks.their_change(7), clerks.their_change(8))
    clerks.store.arm(clerks.stream, both, times=2)
    with pytest.raises(ConcurrencyError):
        clerks.ours.dispatch(c.ConfirmOrder(order_id=clerks.order_id))
    assert clerks.store.attempts == 2
    assert [t for t, _ in clerks.types_and_sources()][-1] == "OrderLineQuantityChanged"


def _sequence(*actions: Callable[[], object]) -> Callable[[], object]:
    queue = list(actions)
    return lambda: queue.pop(0)()


def test_retry_refused_by_the_new_state_reports_the_domain_error() -> None:
    clerks = TwoClerks()
    clerks.store.arm(
        clerks.stream, lambda: clerks.theirs.dispatch(c.ConfirmOrder(order_id=clerks.order_id))
    )
    with pytest.raises(RuleViolation, match="pending"):
        clerks.ours.dispatch(
            c.ChangeLineQuantity(order_id=clerks.order_id, line_id=clerks.lines[0], quantity=9)
        )
    assert clerks.store.attempts == 1  # the reloaded order refused before any append


# --- metadata ------------------------------------------------------------------------------


def test_metadata_records_command_ids_user_host_and_source(world: World, app: MemoryApp) -> None:
    command = c.PlaceOrder(
        customer_id=world.customer,
        lines=(
            c.LineInput(product_id=world.mug, quantity=1),
            c.LineInput(product_id=world.pot, quantity=1),
        ),
    )
    world.send(command)
    stored = app.events.read_stream(f"order-{command.order_id}")
    assert len(stored) == 3
    for event in stored:
        meta = event.metadata
        assert meta.causation_id == command.command_id
        assert meta.correlation_id == command.command_id
        assert meta.user == os_user()
        assert meta.host == host_name()
        assert meta.app_version == app_version()
        assert meta.source == "test"
    assert len({e.event_id for e in stored}) == 3


def test_metadata_keeps_a_given_correlation_id(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)
    confirm = c.ConfirmOrder(order_id=order_id, correlation_id="form-42")
    world.send(confirm)
    meta = app.events.read_stream(f"order-{order_id}")[-1].metadata
    assert (meta.correlation_id, meta.causation_id) == ("form-42", confirm.command_id)
