"""The event-history timeline over a real SQLite file: loading, summaries, details, state,
diffs, type filter, keyboard, and a long history."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.ui.history import HistoryView
from desktop_app.ui.history.event_style import ORDER_EVENT_TYPES, style_for
from desktop_app.ui.history.state_views import KIND_ROLE, DiffModel
from desktop_app.ui.history.timeline_model import GROUP_ROLE, TimelineModel
from desktop_app.ui.tasks import TaskRunner

# The offscreen platform says this on every show(); it is not a problem of ours.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


class StepClock:
    """One second per call, so recorded times are distinct and known."""

    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Shop:
    """A customer, three products and one order with a varied history, via the command bus."""

    def __init__(self, app: App) -> None:
        self.app = app
        customer = c.RegisterCustomer(name="Ørestad Møbler ApS")
        self.send(customer)
        self.customer = customer.customer_id
        self.products: dict[str, str] = {}
        for sku, name, price in (
            ("MUG-1", "Blue Mug", "4.50"),
            ("TEA-2", "Tea Tin", "8.50"),
            ("LMP-3", "Desk Lamp", "49.00"),
        ):
            product = c.AddProduct(sku=sku, name=name, price=Decimal(price), currency="EUR")
            self.send(product)
            self.products[sku] = product.product_id

    def send(self, command: c.Command) -> c.CommandResult:
        return self.app.commands.dispatch(command)

    def place(self, *lines: tuple[str, int]) -> str:
        command = c.PlaceOrder(
            customer_id=self.customer,
            lines=tuple(c.LineInput(product_id=self.products[s], quantity=n) for s, n in lines),
        )
        self.send(command)
        return command.order_id

    def line_ids(self, order_id: str) -> list[str]:
        state = self.app.queries.ask(q.GetOrderAtVersion(order_id=order_id)).state
        return [str(line["line_id"]) for line in state["lines"]]

    def story(self) -> str:
        """v1 placed, v2-v3 lines (one command), v4 line added, v5 quantity, v6 removed,
        v7 confirmed, v8 shipped, v9 delivered."""
        order = self.place(("MUG-1", 3), ("TEA-2", 2))
        mug, tea = self.line_ids(order)
        self.send(
            c.AddOrderLine(
                order_id=order, line=c.LineInput(product_id=self.products["LMP-3"], quantity=1)
            )
        )
        self.send(c.ChangeLineQuantity(order_id=order, line_id=mug, quantity=6))
        self.send(c.RemoveOrderLine(order_id=order, line_id=tea))
        self.send(c.ConfirmOrder(order_id=order))
        self.send(c.ShipOrder(order_id=order, tracking_number="JD0146", carrier="DHL"))
        self.send(c.DeliverOrder(order_id=order))
        return order


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    application = bootstrap(
        Settings(db_path=tmp_path / "orders.sqlite3", synchronous="NORMAL"),
        source="test",
        clock=StepClock(),
    )
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def shop(app: App) -> Shop:
    return Shop(app)


@pytest.fixture
def tasks(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_idle()


@pytest.fixture
def view(qtbot, app: App, tasks: TaskRunner) -> HistoryView:
    widget = HistoryView(app.queries, tasks)
    qtbot.addWidget(widget)
    widget.resize(1200, 720)
    return widget


def show(qtbot, view: HistoryView, order_id: str | None) -> None:
    with qtbot.waitSignal(view.history_loaded, timeout=10000):
        view.show_order(order_id)
    qtbot.waitUntil(
        lambda: (
            view.diff_view.model.rowCount() > 0
            or view.diff_view.message.text() not in ("", "Loading changes…")
        )
    )


def wait_details(qtbot, view: HistoryView, version: int) -> None:
    qtbot.waitUntil(
        lambda: (
            view.tabs.tabText(1) == f"State at v{version}"
            and view.diff_view.title.text().startswith("Changes from")
        ),
        timeout=10000,
    )


# --- models ------------------------------------------------------------------------------


def test_timeline_model_passes_qt_model_tester(qapp, qtmodeltester, app: App, shop: Shop) -> None:
    order = shop.story()
    entries = app.queries.ask(q.GetOrderHistory(order_id=order))
    model = TimelineModel()
    model.set_entries(entries)
    qtmodeltester.check(model)
    model.set_type_filter({"OrderLineAdded"})
    qtmodeltester.check(model)
    assert model.rowCount() == 3


def test_diff_model_passes_qt_model_tester(qapp, qtmodeltester, app: App, shop: Shop) -> None:
    order = shop.story()
    diff = app.queries.ask(q.GetOrderDiff(order_id=order, from_version=0, to_version=9))
    model = DiffModel()
    model.set_changes(diff.changes)
    qtmodeltester.check(model)


# --- loading -----------------------------------------------------------------------------


def test_placeholder_without_order(qtbot, view: HistoryView) -> None:
    view.show_order(None)
    assert view.model.rowCount() == 0
    assert not view._content.isVisibleTo(view)


def test_showing_an_order_fills_the_timeline_in_version_order(
    qtbot, view: HistoryView, app: App, shop: Shop
) -> None:
    order = shop.story()
    show(qtbot, view, order)
    versions = [view.model.entry(r).version for r in range(view.model.rowCount())]
    assert versions == list(range(1, 10))
    types = [view.model.entry(r).type_name for r in range(view.model.rowCount())]
    assert types == [
        "OrderPlaced",
        "OrderLineAdded",
        "OrderLineAdded",
        "OrderLineAdded",
        "OrderLineQuantityChanged",
        "OrderLineRemoved",
        "OrderConfirmed",
        "OrderShipped",
        "OrderDelivered",
    ]
    texts = [view.model.index(r, 0).data() for r in range(view.model.rowCount())]
    assert texts[1] == "v2 Line added: Added Blue Mug (MUG-1): 3 × 4.50 EUR, +13.50 EUR"
    assert texts[7] == "v8 Shipped: Shipped with DHL, tracking number JD0146"
    assert "SO-" in view.header.text() and "9 events" in view.header.text()
    # The newest event is selected and its details are shown.
    assert view.selected_version() == 9
    wait_details(qtbot, view, 9)


def test_events_of_one_command_are_grouped(qtbot, view: HistoryView, shop: Shop) -> None:
    order = shop.story()
    show(qtbot, view, order)
    groups = [view.model.index(r, 0).data(GROUP_ROLE) for r in range(view.model.rowCount())]
    # PlaceOrder produced v1..v3 (placed + two lines): one command, one bracket.
    assert [g.size for g in groups[:4]] == [3, 3, 3, 1]
    assert groups[0].first and groups[2].last and not groups[1].first
    assert len({g.causation_id for g in groups[:3]}) == 1
    assert groups[3].causation_id != groups[0].causation_id


# --- details -----------------------------------------------------------------------------


def _detail_values(view: HistoryView) -> dict[str, str]:
    values = {}
    tree = view.details
    for i in range(tree.topLevelItemCount()):
        section = tree.topLevelItem(i)
        for j in range(section.childCount()):
            item = section.child(j)
            values[f"{section.text(0)}/{item.text(0)}"] = item.text(1)
    return values


def test_selecting_an_event_shows_payload_metadata_and_state(
    qtbot, view: HistoryView, app: App, shop: Shop
) -> None:
    order = shop.story()
    show(qtbot, view, order)
    view.select_version(5)
    wait_details(qtbot, view, 5)
    entry = app.queries.ask(q.GetOrderHistory(order_id=order, from_version=5, to_version=5))[0]
    values = _detail_values(view)
    assert values["Event/Event id"] == entry.event_id
    assert values["Event/Position"] == str(entry.position)
    assert (
        values["Event/Recorded (UTC)"]
        == "2024-03-01 " + entry.recorded_at.strftime("%H:%M:%S") + " UTC"
    )
    assert values["Event/Recorded (local)"]
    assert "schema v1" in values["Event/Type"]
    assert values["Command and origin/Causation id"] == entry.metadata.causation_id
    assert values["Command and origin/Correlation id"] == entry.metadata.correlation_id
    assert values["Command and origin/Source"] == "test"
    assert values["Command and origin/User"] == entry.metadata.user
    assert values["Command and origin/Host"] == entry.metadata.host
    assert values["Command and origin/App version"] == entry.metadata.app_version
    assert values["Payload/quantity"] == "6"
    assert values["Hash chain/Hash"] == entry.hash
    assert values["Hash chain/Previous hash"] == entry.prev_hash
    # State at v5: the mug line has quantity 6 and the tea line is still there.
    tree = view.state_tree
    assert tree.item_for_path("lines[MUG-1].quantity").text(1) == "6"
    assert tree.item_for_path("lines[TEA-2].quantity").text(1) == "2"
    assert tree.item_for_path("status").text(1) == "pending"


def test_diff_with_previous_version_highlights_changed_fields(
    qtbot, view: HistoryView, shop: Shop
) -> None:
    order = shop.story()
    show(qtbot, view, order)
    view.select_version(5)  # quantity of the mug line 3 -> 6
    wait_details(qtbot, view, 5)
    changes = {ch.path: ch for ch in view.diff_view.model.changes()}
    quantity = next(ch for p, ch in changes.items() if p.endswith(".quantity"))
    assert (quantity.before, quantity.after, quantity.kind) == (3, 6, "changed")
    assert changes["total"].kind == "changed"
    assert {ch.kind for ch in changes.values()} == {"changed"}
    assert "from v4 to v5 (previous version)" in view.diff_view.title.text()
    # The changed fields are highlighted in the diff table and in the state tree.
    row = list(changes).index("total")
    assert view.diff_view.model.index(row, 0).data(KIND_ROLE) == "changed"
    assert view.state_tree.item_for_path("lines[MUG-1].quantity").data(0, KIND_ROLE) == "changed"
    assert view.state_tree.item_for_path("total").data(0, KIND_ROLE) == "changed"
    assert view.state_tree.item_for_path("status").data(0, KIND_ROLE) is None

    view.select_version(6)  # the tea line removed
    wait_details(qtbot, view, 6)
    kinds = {ch.path: ch.kind for ch in view.diff_view.model.changes()}
    assert any(p.startswith("lines[") and k == "removed" for p, k in kinds.items())
    removed_row = next(
        i for i, ch in enumerate(view.diff_view.model.changes()) if ch.kind == "removed"
    )
    background = view.diff_view.model.index(removed_row, 0).data(Qt.ItemDataRole.BackgroundRole)
    assert background.color().name() == "#fee2e2"


def test_choosing_two_versions_diffs_them(qtbot, view: HistoryView, shop: Shop) -> None:
    order = shop.story()
    show(qtbot, view, order)
    wait_details(qtbot, view, 9)
    view.from_spin.setValue(4)
    view.to_spin.setValue(7)
    with qtbot.waitSignal(view.compare_loaded, timeout=10000) as blocker:
        qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [4, 7]
    kinds = {ch.path: ch.kind for ch in view.diff_view.model.changes()}
    assert kinds["status"] == "changed"
    assert any(p.startswith("lines[") and k == "removed" for p, k in kinds.items())
    assert "from v4 to v7" in view.diff_view.title.text()
    # From the start: everything is added.
    with qtbot.waitSignal(view.compare_loaded, timeout=10000):
        view.compare(0, 1)
    assert {ch.kind for ch in view.diff_view.model.changes()} == {"added"}


# --- filter and keyboard -----------------------------------------------------------------


def test_type_filter_hides_other_types(qtbot, view: HistoryView, shop: Shop) -> None:
    order = shop.story()
    show(qtbot, view, order)
    counts = {
        view.type_list.item(i).data(Qt.ItemDataRole.UserRole + 20): view.type_list.item(i).text()
        for i in range(view.type_list.count())
    }
    assert counts["OrderLineAdded"] == "Line added (3)"
    assert set(ORDER_EVENT_TYPES) <= set(counts)
    # Uncheck everything but "Line added" through the list, as a user would.
    for i in range(view.type_list.count()):
        item = view.type_list.item(i)
        if item.data(Qt.ItemDataRole.UserRole + 20) != "OrderLineAdded":
            item.setCheckState(Qt.CheckState.Unchecked)
    assert [view.model.entry(r).version for r in range(view.model.rowCount())] == [2, 3, 4]
    assert "showing 3 of 9" in view.filter_note.text()
    assert view.selected_version() == 4
    qtbot.mouseClick(view.all_types, Qt.MouseButton.LeftButton)
    assert view.model.rowCount() == 9
    assert view.selected_version() == 4  # the selection survives


def test_keyboard_moves_through_events_and_focuses_controls(
    qtbot, view: HistoryView, shop: Shop
) -> None:
    order = shop.story()
    view.show()
    qtbot.waitExposed(view)
    show(qtbot, view, order)
    view.timeline.setFocus()
    qtbot.keyClick(view.timeline, Qt.Key.Key_Up)
    qtbot.keyClick(view.timeline, Qt.Key.Key_Up)
    assert view.selected_version() == 7
    wait_details(qtbot, view, 7)
    assert view.from_spin.value() == 6 and view.to_spin.value() == 7
    qtbot.keyClick(view.timeline, Qt.Key.Key_Home)
    assert view.selected_version() == 1
    view.focus_compare()
    assert view.from_spin.hasFocus()
    view.focus_filter()
    assert view.type_list.hasFocus()


def test_refresh_keeps_the_selected_event_and_shows_new_ones(
    qtbot, view: HistoryView, shop: Shop
) -> None:
    order = shop.place(("MUG-1", 1))
    show(qtbot, view, order)
    view.select_version(1)
    mug = shop.line_ids(order)[0]
    shop.send(c.ChangeLineQuantity(order_id=order, line_id=mug, quantity=4))
    with qtbot.waitSignal(view.history_loaded, timeout=10000):
        view.refresh()
    assert view.model.rowCount() == 3
    assert view.selected_version() == 1


def test_unknown_order_shows_an_empty_history(qtbot, view: HistoryView) -> None:
    with qtbot.waitSignal(view.history_loaded, timeout=10000) as blocker:
        view.show_order("no-such-order")
    assert blocker.args == [0]
    assert view.model.rowCount() == 0


# --- a long history ----------------------------------------------------------------------

LONG_EVENTS = int(os.environ.get("HISTORY_TEST_EVENTS", "2000"))


def build_long_order(shop: Shop, events: int) -> str:
    """One order with ``events`` events: placed + one line, then quantity changes."""
    order = shop.place(("MUG-1", 1))
    line = shop.line_ids(order)[0]
    quantity = 1
    for _ in range(events - 2):
        quantity = quantity % 90 + 1
        shop.send(c.ChangeLineQuantity(order_id=order, line_id=line, quantity=quantity))
    return order


def test_long_history_loads_paints_and_filters(qtbot, view: HistoryView, shop: Shop) -> None:
    """Every event of a long history is on the timeline and the type filter works over all of
    them. How fast is P5's "timeline of a 10,000-event order", measured by the benchmark."""
    order = build_long_order(shop, LONG_EVENTS)
    view.show()
    qtbot.waitExposed(view)
    with qtbot.waitSignal(view.history_loaded, timeout=60000):
        view.show_order(order)
    view.timeline.viewport().repaint()
    assert view.model.rowCount() == LONG_EVENTS
    assert view.selected_version() == LONG_EVENTS
    view.set_type_filter({"OrderPlaced"})
    view.timeline.viewport().repaint()
    assert view.model.rowCount() == 1
    assert style_for("OrderPlaced").label == "Placed"


# --- ship-to address and notes -------------------------------------------------------------


def test_address_and_notes_on_the_timeline_and_in_the_diff(
    qtbot, view: HistoryView, shop: Shop
) -> None:
    order = shop.place(("MUG-1", 1))  # v1 placed, v2 line
    shop.send(c.ChangeShippingAddress(order_id=order, address="Havnegade 4\n1058 København"))
    shop.send(c.AddOrderNote(order_id=order, text="Ring the bell twice"))
    show(qtbot, view, order)
    texts = [view.model.index(r, 0).data() for r in range(view.model.rowCount())]
    assert texts[2:] == [
        "v3 Ship-to changed: Changed the shipping address to Havnegade 4 · 1058 København",
        "v4 Note: Added a note: “Ring the bell twice”",
    ]
    assert style_for("OrderNoteAdded").glyph == "note"
    wait_details(qtbot, view, 4)
    view.from_spin.setValue(2)
    view.to_spin.setValue(4)
    with qtbot.waitSignal(view.compare_loaded, timeout=10000):
        qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    changes = {ch.path: ch for ch in view.diff_view.model.changes()}
    assert changes["shipping_address"].before == ""
    assert changes["shipping_address"].after == "Havnegade 4\n1058 København"
    assert changes["notes[#4]"].kind == "added"
