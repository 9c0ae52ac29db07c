"""Preview before a change (issue 11), through the real buses over the in-memory stores: the
domain's own decision runs on a loaded copy of the order, the events it would write come back
in business language with the order document before and after, and nothing is written — no
event, no snapshot, no rejection, no change to the cached order. A refusal is the domain's
message; a stale version is a conflict, and the real command then still fails on it."""

from __future__ import annotations

import pytest

from desktop_app.application import commands as c
from desktop_app.application.ports import ConcurrencyError
from desktop_app.application.preview import ChangePreview, PreviewOrderCommand
from desktop_app.domain.errors import DomainError
from desktop_app.store.rejection_log import InMemoryRejectionLog

from .conftest import StepClock
from .helpers import MemoryApp, World, memory_app


@pytest.fixture
def log() -> InMemoryRejectionLog:
    return InMemoryRejectionLog(clock=StepClock())


@pytest.fixture
def app(log: InMemoryRejectionLog) -> MemoryApp:
    return memory_app(clock=StepClock(), snapshot_interval=2, rejections=log)


def _preview(app: MemoryApp, command: c.OrderCommand) -> ChangePreview:
    return app.queries.ask(PreviewOrderCommand(command=command))


def test_preview_of_an_edit_tells_the_events_and_the_document_and_writes_nothing(
    app: MemoryApp, world: World, log: InMemoryRejectionLog
) -> None:
    order = world.place(2, 1)
    mug_line, pot_line = world.line_ids(order)
    head, state, version = world.head(), world.state(order).state, world.version(order)
    snapshots_before = app.snapshots.latest_snapshot(world.stream(order))
    command = c.ChangeOrderLines(
        order_id=order,
        expected_version=version,
        remove=(c.LineRemoval(line_id=pot_line),),
        change=(c.QuantityChange(line_id=mug_line, quantity=5),),
    )
    preview = _preview(app, command)
    assert preview.allowed and preview.version == version
    (event,) = preview.events
    assert event.type_name == "OrderLinesChanged"
    assert event.text == (
        "Edited the lines: Removed Tea Pot (POT-2): 1 × 19.90 EUR, -19.90 EUR; "
        "Blue Mug (MUG-1): 2 → 5, +13.50 EUR (-6.40 EUR)"
    )
    diff = preview.diff
    assert diff is not None
    assert [(r.label, r.before, r.after, r.change) for r in diff.lines] == [
        ("Blue Mug (MUG-1)", "2 × 4.50 EUR = 9.00 EUR", "5 × 4.50 EUR = 22.50 EUR", "changed"),
        ("Tea Pot (POT-2)", "1 × 19.90 EUR = 19.90 EUR", "", "removed"),
    ]
    assert (diff.total.before, diff.total.after) == ("28.90 EUR", "22.50 EUR")
    # Nothing written: no event, no snapshot, no rejection; the order as it was.
    assert world.head() == head and world.state(order).state == state
    assert app.snapshots.latest_snapshot(world.stream(order)) == snapshots_before
    assert log.for_stream(world.stream(order)) == []
    # The order the command handler will check out is untouched (not the preview's copy).
    assert app.deps.orders.view(order, lambda o: (o.version, len(o.lines))) == (version, 2)
    # Then the very same command is accepted and writes what was shown.
    result = app.commands.dispatch(command)
    assert result.version == version + 1
    assert [line["quantity"] for line in world.state(order).state["lines"]] == [5]


def test_each_status_change_previews_its_event(app: MemoryApp, world: World) -> None:
    order = world.place(3)
    steps: list[tuple[c.OrderCommand, str, str, str]] = [
        (c.ConfirmOrder(order_id=order), "OrderConfirmed", "Pending", "Confirmed"),
        (
            c.ShipOrder(order_id=order, tracking_number="JD-1"),
            "OrderShipped",
            "Confirmed",
            "Shipped",
        ),
        (c.DeliverOrder(order_id=order), "OrderDelivered", "Shipped", "Delivered"),
    ]
    for command, type_name, before, after in steps:
        head = world.head()
        preview = _preview(app, command)
        assert [e.type_name for e in preview.events] == [type_name]
        assert preview.diff is not None
        status = next(r for r in preview.diff.header if r.label == "Status")
        assert (status.before, status.after) == (before, after)
        assert world.head() == head
        app.commands.dispatch(command)
    again = _preview(app, c.ShipOrder(order_id=order, tracking_number="JD-2"))
    assert not again.allowed and again.diff is None and again.events == ()


def test_a_refusal_is_the_domains_message_and_writes_nothing(
    app: MemoryApp, world: World, log: InMemoryRejectionLog
) -> None:
    order = world.place(1)
    head, state = world.head(), world.state(order).state
    # Shipping a pending order: the domain's own words, from the same decision the handler runs.
    command = c.ShipOrder(order_id=order, tracking_number="JD-1")
    preview = _preview(app, command)
    assert not preview.allowed and preview.events == () and preview.diff is None
    # A cancel without a reason: refused with the field it concerns.
    blank = _preview(app, c.CancelOrder(order_id=order, reason="  "))
    assert blank.refusal and blank.field == "reason"
    # A badly typed command: the bus's shape check, as the real command would meet it.
    bad = _preview(app, c.ConfirmOrder(order_id=order, expected_version="2"))  # type: ignore[arg-type]
    assert bad.refusal and not bad.allowed
    assert world.head() == head and world.state(order).state == state
    assert log.for_stream(world.stream(order)) == []  # a preview is no refused command
    # The real command meets the very same refusal (the preview ran the domain's decision).
    with pytest.raises(DomainError) as refused:
        app.commands.dispatch(command)
    assert preview.refusal == refused.value.message
    with pytest.raises(DomainError) as no_reason:
        app.commands.dispatch(c.CancelOrder(order_id=order, reason="  "))
    assert blank.refusal == no_reason.value.message


def test_a_stale_version_is_a_conflict_and_the_real_command_is_caught_too(
    app: MemoryApp, world: World
) -> None:
    order = world.place(2)
    seen = world.version(order)
    confirm = c.ConfirmOrder(order_id=order, expected_version=seen)
    assert _preview(app, confirm).allowed
    # Someone else changes the order between the preview and the click.
    world.send(c.AddOrderLine(order_id=order, line=c.LineInput(product_id=world.pot, quantity=1)))
    later = _preview(app, confirm)
    assert later.conflict and not later.allowed and f"version {seen}" in (later.refusal or "")
    with pytest.raises(ConcurrencyError):
        app.commands.dispatch(confirm)
    assert world.state(order).state["status"] == "pending"


def test_only_known_order_commands_can_be_previewed(app: MemoryApp, world: World) -> None:
    order = world.place(1)
    with pytest.raises(DomainError, match="cannot be previewed"):
        _preview(app, c.AddOrderNote(order_id=order, note_id="n1", text="x"))
    missing = _preview(app, c.ConfirmOrder(order_id="no-such-order"))
    assert missing.refusal and "no-such-order" in missing.refusal
