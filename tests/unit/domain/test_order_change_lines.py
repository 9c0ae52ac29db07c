"""One edit of an order's lines: one event, one version, each change under its one-line rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app.domain import DomainError, Money, NewLine, Order, OrderLinesChanged
from desktop_app.domain.events import AddedLine, LineQuantity
from desktop_app.domain.order import MAX_LINES
from desktop_app.domain.serialization import from_payload, to_payload

from .strategies import order_in, place, product


def _three_lines() -> Order:
    order = place(
        NewLine("l-1", product("p-1"), 3),
        NewLine("l-2", product("p-2", "1.25"), 2),
        NewLine("l-3", product("p-3", "2.00", name="Mug"), 1),
    )
    order.take_pending()
    return order


def _refused(order: Order, message: str, field: str | None, **changes: object) -> None:
    before = (order.version, order.lines)
    with pytest.raises(DomainError) as exc:
        order.change_lines(**changes)  # type: ignore[arg-type]
    assert (exc.value.message, exc.value.field) == (message, field)
    assert (order.version, order.lines) == before
    assert order.pending_events == []


def test_an_edit_is_one_event_and_one_version() -> None:
    order = _three_lines()
    version = order.version
    order.change_lines(
        remove=["l-2"],
        quantities=[("l-1", 7)],
        add=[NewLine("l-4", product("p-4", "3.10"), 5, Money(Decimal("3.00"), "EUR"))],
    )
    assert order.version == version + 1
    (event,) = order.take_pending()
    assert event == OrderLinesChanged(
        order_id="o-1",
        removed=("l-2",),
        quantities=(LineQuantity(line_id="l-1", quantity=7),),
        added=(
            AddedLine(
                line_id="l-4",
                product_id="p-4",
                sku="P-4",
                product_name="Widget",
                quantity=5,
                unit_price=Money(Decimal("3.00"), "EUR"),
            ),
        ),
    )
    assert [(line.line_id, line.quantity) for line in order.lines] == [
        ("l-1", 7),
        ("l-3", 1),
        ("l-4", 5),
    ]
    assert order.total == Money(Decimal("4.50") * 7 + Decimal("2.00") + Decimal("15.00"), "EUR")


def test_replay_and_snapshot_give_the_state_the_command_left() -> None:
    order = place(NewLine("l-1", product("p-1"), 3), NewLine("l-2", product("p-2"), 2))
    order.change_lines(remove=["l-1"], quantities=[("l-2", 9)], add=[NewLine("l-3", product(), 1)])
    history = order.take_pending()
    stored = [from_payload(e.type_name, e.schema_version, to_payload(e)) for e in history]
    assert stored == history
    replayed = Order.replay("o-1", stored)
    assert replayed.version == order.version == len(history)
    assert replayed.to_snapshot() == order.to_snapshot()
    restored = Order.from_snapshot("o-1", order.version, order.to_snapshot())
    assert restored.lines == order.lines


def test_each_change_is_checked_by_its_one_line_rule_and_names_the_line() -> None:
    order = _three_lines()
    _refused(
        order,
        "P-3 Mug: The quantity is already 1.",
        "quantity",
        quantities=[("l-1", 4), ("l-3", 1)],
    )
    _refused(order, "That line is not on this order (any more).", "lines", remove=["l-9"])
    gone = product("p-9", discontinued=True, name="Old")
    _refused(
        order,
        "P-9 Old: Old is discontinued and cannot be added to an order.",
        "product",
        remove=["l-1"],
        add=[NewLine("l-5", gone, 1)],
    )
    _refused(
        order,
        "P-1 Widget: This order already has a line with that id.",
        "line_id",
        add=[NewLine("l-1", product("p-1"), 1)],
    )


def test_a_refusal_of_one_change_refuses_the_whole_edit_and_changes_nothing() -> None:
    order = _three_lines()
    huge = NewLine("l-5", product("p-5", "999999999.00"), 999_999)
    with pytest.raises(DomainError, match="exceed the largest amount"):
        order.change_lines(remove=["l-1"], quantities=[("l-2", 5)], add=[huge])
    assert [(line.line_id, line.quantity) for line in order.lines] == [
        ("l-1", 3),
        ("l-2", 2),
        ("l-3", 1),
    ]
    assert order.pending_events == []


def test_empty_repeated_and_late_edits_are_refused() -> None:
    order = _three_lines()
    _refused(order, "Nothing to change: no line was added, removed or changed.", "lines")
    _refused(
        order,
        "Each line can be changed only once in one edit.",
        "lines",
        remove=["l-1"],
        quantities=[("l-1", 5)],
    )
    _refused(order, "Choose a product.", "product", add=["not a line", None])
    _refused(order, "That line is not on this order (any more).", "lines", remove=[["l-1"]])
    confirmed = order_in("confirmed")
    confirmed.take_pending()
    _refused(
        confirmed,
        "Lines can only be changed while the order is pending. This order is confirmed.",
        "lines",
        quantities=[("l-1", 5)],
    )


def test_removals_make_room_for_additions_up_to_the_line_limit() -> None:
    lines = [NewLine(f"l-{i}", product(f"p-{i}", "1.00"), 1) for i in range(MAX_LINES)]
    order = place(*lines)
    order.take_pending()
    _refused(
        order,
        f"An order can have at most {MAX_LINES} lines.",
        "lines",
        add=[NewLine("new", product(), 1)],
    )
    order.change_lines(remove=["l-0"], add=[NewLine("new", product(), 1)])
    assert len(order.lines) == MAX_LINES


def test_a_recorded_edit_is_checked_with_the_same_rules() -> None:
    order = _three_lines()
    legal = OrderLinesChanged(
        order_id="o-1", removed=("l-1",), quantities=(LineQuantity(line_id="l-2", quantity=4),)
    )
    assert order.refusal(legal) is None
    assert order.refusal(OrderLinesChanged(order_id="o-1")) == (
        "An edit of the lines that changes nothing."
    )
    # The removed line cannot have its quantity changed in the same edit.
    twice = OrderLinesChanged(
        order_id="o-1", removed=("l-1",), quantities=(LineQuantity(line_id="l-1", quantity=4),)
    )
    assert order.refusal(twice) == "Each line can be changed only once in one edit."
    same = OrderLinesChanged(order_id="o-1", quantities=(LineQuantity(line_id="l-2", quantity=2),))
    assert order.refusal(same) == "P-2 Widget: The quantity is already 2."
    cancelled = order_in("cancelled")
    assert cancelled.refusal(legal) == (
        "Lines can only be changed while the order is pending. This order is cancelled."
    )
    other = OrderLinesChanged(order_id="o-2", removed=("l-1",))
    assert order.refusal(other) == "The event names another order than the stream it is in."
