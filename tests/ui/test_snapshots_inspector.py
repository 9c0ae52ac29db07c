"""The snapshot inspector over a real SQLite file: list, stored state, verify against replay
(equal, different, unusable), take a snapshot now, read-only mode."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import sqlite3
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
from desktop_app.ui.snapshots import SnapshotInspector
from desktop_app.ui.snapshots.model import SnapshotTableModel
from desktop_app.ui.tasks import TaskRunner

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

INTERVAL = 5  # a snapshot every 5 events keeps the orders small


class StepClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "orders.sqlite3"


@pytest.fixture
def app(db_path: Path) -> Iterator[App]:
    application = bootstrap(
        Settings(db_path=db_path, synchronous="NORMAL", snapshot_interval=INTERVAL),
        source="test",
        clock=StepClock(),
    )
    try:
        yield application
    finally:
        application.close()


def make_order(app: App, changes: int) -> str:
    """An order with 2 + ``changes`` events (quantity changes of its one line)."""
    send = app.commands.dispatch
    customer = c.RegisterCustomer(name="Café Olé")
    send(customer)
    product = c.AddProduct(sku="MUG-1", name="Blue Mug", price=Decimal("4.50"), currency="EUR")
    send(product)
    order = c.PlaceOrder(
        customer_id=customer.customer_id,
        lines=(c.LineInput(product_id=product.product_id, quantity=1),),
    )
    send(order)
    state = app.queries.ask(q.GetOrderAtVersion(order_id=order.order_id)).state
    line = state["lines"][0]["line_id"]
    for i in range(changes):
        send(c.ChangeLineQuantity(order_id=order.order_id, line_id=line, quantity=i % 7 + 2))
    return order.order_id


@pytest.fixture
def tasks(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_idle()


@pytest.fixture
def inspector(qtbot, app: App, tasks: TaskRunner) -> SnapshotInspector:
    widget = SnapshotInspector(app.commands, app.queries, tasks)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    return widget


def show(qtbot, inspector: SnapshotInspector, order_id: str) -> None:
    with qtbot.waitSignal(inspector.snapshots_loaded, timeout=10000):
        inspector.show_order(order_id)


def versions(inspector: SnapshotInspector) -> list[int]:
    return [inspector.model.info(r).version for r in range(inspector.model.rowCount())]


def test_snapshot_model_passes_qt_model_tester(qapp, qtmodeltester, app: App) -> None:
    order = make_order(app, 10)
    model = SnapshotTableModel()
    model.set_snapshots(app.queries.ask(q.ListOrderSnapshots(order_id=order)))
    assert model.rowCount() >= 2
    qtmodeltester.check(model)


def test_lists_snapshots_and_shows_the_stored_state(
    qtbot, inspector: SnapshotInspector, app: App
) -> None:
    order = make_order(app, 10)  # 12 events: snapshots at 5 and 10
    expected = sorted(
        (s.version for s in app.queries.ask(q.ListOrderSnapshots(order_id=order))), reverse=True
    )
    with qtbot.waitSignal(inspector.state_loaded, timeout=10000):
        show(qtbot, inspector, order)
    assert versions(inspector) == expected
    assert expected[0] == 10
    row = [inspector.model.index(0, col).data() for col in range(5)]
    assert row[0] == "v10" and row[3].startswith("v") and row[4] == "yes"
    assert row[2].endswith("B")
    assert inspector.selected_version() == 10
    stored = app.queries.ask(q.GetOrderSnapshot(order_id=order, version=10))
    assert inspector.state_tree.item_for_path("total").text(1) == stored.state["total"]
    assert "v10" in inspector.state_title.text()


def test_verify_equal_to_replay(qtbot, inspector: SnapshotInspector, app: App) -> None:
    order = make_order(app, 5)
    show(qtbot, inspector, order)
    with qtbot.waitSignal(inspector.verified, timeout=10000) as blocker:
        qtbot.mouseClick(inspector.verify_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].equal
    assert "Equal to replay" in inspector.verdict.text()
    assert inspector.differences.model.rowCount() == 0


def test_verify_shows_the_differing_fields_of_a_wrong_snapshot(
    qtbot, inspector: SnapshotInspector, app: App
) -> None:
    order = make_order(app, 5)  # snapshot at v5
    stream = f"order-{order}"
    good = app.snapshots.get_snapshot(stream, 5)
    state = dict(good.state)
    state["total"] = "999.00"
    state["status"] = "confirmed"
    lines = [dict(line) for line in state["lines"]]
    state["lines"] = lines
    app.snapshots.save_snapshot(dataclasses.replace(good, state=state, taken_at=None))
    show(qtbot, inspector, order)
    with qtbot.waitSignal(inspector.verified, timeout=10000) as blocker:
        inspector.verify_selected()
    check = blocker.args[0]
    assert check.usable and not check.equal
    assert "Differs from replay" in inspector.verdict.text()
    changes = {ch.path: ch for ch in inspector.differences.model.changes()}
    assert changes["status"].before == "confirmed" and changes["status"].after == "pending"
    assert changes["total"].kind == "changed"


def test_verify_a_tampered_snapshot_shows_the_problem(
    qtbot, inspector: SnapshotInspector, app: App, db_path: Path
) -> None:
    order = make_order(app, 5)
    raw = sqlite3.connect(db_path)
    with raw:
        raw.execute(
            "UPDATE snapshots SET state = replace(state, '\"pending\"', '\"shipped\"') "
            "WHERE stream_id = ? AND version = 5",
            (f"order-{order}",),
        )
    raw.close()
    show(qtbot, inspector, order)
    assert inspector.model.index(0, 4).data() == "damaged"
    with qtbot.waitSignal(inspector.verified, timeout=10000) as blocker:
        inspector.verify_selected()
    assert not blocker.args[0].usable
    assert "not usable" in inspector.verdict.text()
    assert inspector.problem.isVisibleTo(inspector)
    assert inspector.problem.text() == blocker.args[0].problem


def test_take_snapshot_now_adds_a_row(qtbot, inspector: SnapshotInspector, app: App) -> None:
    order = make_order(app, 2)  # 4 events: no automatic snapshot yet
    show(qtbot, inspector, order)
    assert inspector.model.rowCount() == 0
    assert inspector.empty_note.isVisibleTo(inspector)
    assert not inspector.verify_button.isEnabled()
    with qtbot.waitSignal(inspector.state_loaded, timeout=10000):
        qtbot.mouseClick(inspector.take_button, Qt.MouseButton.LeftButton)
    assert versions(inspector) == [4]
    assert inspector.selected_version() == 4
    assert "Snapshot taken at v4" in inspector.status.text()
    assert inspector.take_button.isEnabled()


def test_read_only_disables_take_snapshot(qtbot, inspector: SnapshotInspector, app: App) -> None:
    order = make_order(app, 5)
    show(qtbot, inspector, order)
    assert inspector.take_button.isEnabled()
    inspector.set_read_only(True)
    assert not inspector.take_button.isEnabled()
    assert "read-only" in inspector.take_button.toolTip()
    inspector.take_snapshot()  # refused quietly
    assert inspector.status.text() == ""
    inspector.set_read_only(False)
    assert inspector.take_button.isEnabled()


def test_no_order_selected(qtbot, inspector: SnapshotInspector) -> None:
    inspector.show_order(None)
    assert inspector.model.rowCount() == 0
    assert not inspector.take_button.isEnabled()
    assert "Select an order" in inspector.title.text()


def test_a_forged_snapshot_is_shown_as_not_trusted_with_the_reason(
    qtbot, inspector: SnapshotInspector, app: App, db_path: Path
) -> None:
    """R26: state edited and the public checksum recomputed: not "damaged", but not trusted."""
    from desktop_app.domain.order import Order
    from desktop_app.store.records import snapshot_checksum

    order = make_order(app, 5)
    stream = f"order-{order}"
    raw = sqlite3.connect(db_path)
    with raw:
        (state,) = raw.execute(
            "SELECT state FROM snapshots WHERE stream_id = ? AND version = 5", (stream,)
        ).fetchone()
        forged = state.replace('"pending"', '"shipped"')
        raw.execute(
            "UPDATE snapshots SET state = ?, checksum = ? WHERE stream_id = ? AND version = 5",
            (
                forged,
                snapshot_checksum(stream, 5, "order", Order.SNAPSHOT_SCHEMA_VERSION, forged),
                stream,
            ),
        )
    raw.close()
    show(qtbot, inspector, order)
    assert inspector.model.index(0, 4).data() == "not trusted"
    tip = inspector.model.index(0, 4).data(Qt.ItemDataRole.ToolTipRole)
    assert "seal does not match" in tip
    with qtbot.waitSignal(inspector.verified, timeout=10000) as blocker:
        inspector.verify_selected()
    assert not blocker.args[0].usable
    assert "seal does not match" in (blocker.args[0].problem or "")
