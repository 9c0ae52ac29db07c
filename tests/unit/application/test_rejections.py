"""Rejected commands are recorded (issue 11): the middleware over the real buses and the
in-memory stores. A refused command is recorded once with who, what and why; the caller gets
the very error it would get without the log; a duplicate is no rejection; nothing changes."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.composition import compose
from desktop_app.application.middleware import InvalidCommandError, target_stream
from desktop_app.application.ports import CommandIdReusedError, ConcurrencyError
from desktop_app.domain.errors import DomainError, RuleViolation
from desktop_app.identity import host_name, os_user
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore
from desktop_app.store.rejection_log import InMemoryRejectionLog

from .conftest import StepClock
from .helpers import MemoryApp, World, identity, memory_app


@pytest.fixture
def log() -> InMemoryRejectionLog:
    return InMemoryRejectionLog(clock=StepClock())


@pytest.fixture
def app(log: InMemoryRejectionLog) -> MemoryApp:
    return memory_app(clock=StepClock(), snapshot_interval=5, source="gui", rejections=log)


def test_a_refused_command_is_recorded_once_with_who_what_and_why(
    app: MemoryApp, world: World, log: InMemoryRejectionLog
) -> None:
    order = world.place(2)
    head, version = world.head(), world.version(order)
    ship = c.ShipOrder(order_id=order, tracking_number="TRK-1", correlation_id="corr-9")
    with pytest.raises(RuleViolation) as refused:
        app.commands.dispatch(ship)
    (recorded,) = app.queries.ask(q.ListOrderRejections(order_id=order))
    r = recorded.rejection
    assert (r.user, r.host, r.source) == (os_user(), host_name(), "gui")
    assert (r.command_type, r.command_id, r.correlation_id) == (
        "ShipOrder",
        ship.command_id,
        "corr-9",
    )
    assert r.stream_id == f"order-{order}"
    assert json.loads(r.content) == {
        "fields": {"carrier": "", "order_id": order, "tracking_number": "TRK-1"},
        "type": "ShipOrder",
    }
    assert (r.error_class, r.message) == ("RuleViolation", refused.value.message)
    # Nothing else changed: no event, no version.
    assert (world.head(), world.version(order)) == (head, version)
    assert len(log.in_window()) == 1


def test_the_caller_gets_the_very_error(app: MemoryApp, world: World) -> None:
    order = world.place(2)
    app.commands.dispatch(c.ConfirmOrder(order_id=order))
    with pytest.raises(ConcurrencyError) as conflict:
        app.commands.dispatch(c.ConfirmOrder(order_id=order, expected_version=1))
    (recorded,) = app.queries.ask(q.ListOrderRejections(order_id=order))
    assert recorded.rejection.error_class == "ConcurrencyError"
    assert recorded.rejection.message == str(conflict.value)
    assert conflict.value.stream_id == f"order-{order}"


def test_a_duplicate_is_not_a_rejection(app: MemoryApp, world: World) -> None:
    order = world.place(2)
    confirm = c.ConfirmOrder(order_id=order)
    first = app.commands.dispatch(confirm)
    # The re-sent command is refused by the domain (already confirmed) and answered by
    # deduplication with the first result: the clerk's retry succeeded, nothing was refused.
    again = app.commands.dispatch(confirm)
    assert again.duplicate and again.version == first.version
    assert app.queries.ask(q.ListOrderRejections(order_id=order)) == []
    assert app.queries.ask(q.ListRejections()) == []


def test_a_reused_command_id_is_a_rejection(app: MemoryApp, world: World) -> None:
    order = world.place(2)
    note = c.AddOrderNote(order_id=order, text="first")
    app.commands.dispatch(note)
    with pytest.raises(CommandIdReusedError):
        app.commands.dispatch(
            c.AddOrderNote(order_id=order, text="other", command_id=note.command_id)
        )
    (recorded,) = app.queries.ask(q.ListOrderRejections(order_id=order))
    assert recorded.rejection.error_class == "CommandIdReusedError"


def test_the_shape_checkers_refusals_are_recorded(app: MemoryApp, world: World) -> None:
    bad_money = c.AddProduct(sku="X-1", name="Float", price=0.1, currency="EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidCommandError, match="exact decimal"):
        app.commands.dispatch(bad_money)
    bad_id = c.ConfirmOrder(order_id="a b")
    with pytest.raises(InvalidCommandError, match="order id is not valid"):
        app.commands.dispatch(bad_id)
    no_id = c.ConfirmOrder(order_id="o1", command_id="")
    with pytest.raises(InvalidCommandError, match="no id"):
        app.commands.dispatch(no_id)
    rows = [r.rejection for r in app.queries.ask(q.ListRejections())]
    assert [(r.command_type, r.error_class) for r in rows] == [
        ("AddProduct", "InvalidCommandError"),
        ("ConfirmOrder", "InvalidCommandError"),
        ("ConfirmOrder", "InvalidCommandError"),
    ]
    # The float is kept as content (as the fingerprint writes a non-command value); the
    # refused id names no stream but stays in the content.
    assert rows[0].stream_id == f"product-{bad_money.product_id}"
    assert json.loads(rows[0].content)["fields"]["price"] == {"repr": "0.1"}
    assert rows[1].stream_id == ""
    assert json.loads(rows[1].content)["fields"]["order_id"] == "a b"
    assert (rows[2].command_id, rows[2].stream_id) == ("", "order-o1")


def test_a_domain_refusal_of_a_new_aggregate_names_its_stream(app: MemoryApp) -> None:
    command = c.RegisterCustomer(name="   ")
    with pytest.raises(DomainError):
        app.commands.dispatch(command)
    (recorded,) = app.queries.ask(q.ListRejections())
    assert recorded.rejection.stream_id == f"customer-{command.customer_id}"


def test_a_read_only_log_hides_nothing(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A database open read-only cannot store a rejection: the refusal still reaches the
    caller unchanged and the rejection goes to the log file (info, not a warning per try)."""
    ro = InMemoryRejectionLog(read_only=True)
    events = InMemoryEventStore()
    snapshots = InMemorySnapshotStore(events)
    _, commands, queries = compose(events, snapshots, identity=identity(), rejections=ro)
    confirm = c.ConfirmOrder(order_id="nope")
    with (
        caplog.at_level(logging.INFO, logger="desktop_app.commands"),
        pytest.raises(DomainError) as refused,
    ):
        commands.dispatch(confirm)
    # The same refusal as without any log (the order does not exist).
    events_only = compose(events, snapshots, identity=identity())
    with pytest.raises(DomainError) as plain:
        events_only.commands.dispatch(c.ConfirmOrder(order_id="nope"))
    assert type(refused.value) is type(plain.value)
    assert refused.value.message == plain.value.message
    assert queries.ask(q.ListRejections()) == []
    notes = [r for r in caplog.records if "not recorded (read-only database)" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO


def test_target_stream_prefers_the_order() -> None:
    place = c.PlaceOrder(customer_id="cust-1", lines=())
    assert target_stream(place) == f"order-{place.order_id}"
    assert target_stream(c.RenameProduct(product_id="p1", name="x")) == "product-p1"
    assert target_stream(c.DuplicateOrder(source_order_id="o7")) == "order-o7"
    add = c.AddProduct(sku="S", name="n", price=Decimal("1"), currency="EUR")
    assert target_stream(add) == f"product-{add.product_id}"


def test_without_a_log_nothing_is_recorded_and_nothing_breaks(world: World) -> None:
    # The default fixture app of the other tests has no log: compose stays optional.
    order = world.place(1)
    assert world.version(order) >= 1
