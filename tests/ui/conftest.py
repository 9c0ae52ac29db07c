"""Fixtures for the GUI tests: a TaskRunner that is drained after each test, a real app whose
read model is filled with thousands of list rows through the read-model port (for model tests
that need many rows fast) and a real application with demo data on a SQLite file in tmp_path
(for the shell and live-refresh tests). Both are SQLite files in tmp_path behind the real buses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QThread

from desktop_app.application.ports import CustomerState, OrderState, StoreInfo, WorkingSet
from desktop_app.application.queries import ListOrders, OrderRow
from desktop_app.store.hashing import utc_text
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.tasks import TaskRunner

STATUSES = ("pending", "confirmed", "shipped", "delivered", "cancelled")


def make_row(i: int, *, customers: int = 25) -> OrderRow:
    base = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    c = i % customers
    return OrderRow(
        order_id=f"order-{i:06d}",
        order_number=f"SO-{i:06d}",
        customer_id=f"customer-{c:03d}",
        customer_name=f"Customer {c:03d} Ltd",
        status=STATUSES[i % len(STATUSES)],
        line_count=1 + i % 7,
        total_minor=1000 + (i * 137) % 100000,
        currency="EUR",
        placed_utc=utc_text(base + timedelta(minutes=i)),
        updated_utc=utc_text(base + timedelta(minutes=i, seconds=30)),
        version=2 + i % 11,
        last_position=i * 3,
    )


class ListedOrders:
    """A real app on a SQLite file whose read model holds ``rows``, written through the
    read-model port (``replace_all``) and read through the real query bus.

    Builds thousands of list rows in milliseconds (no events behind them, so only lists and
    counts work, not history). Records every query and whether it ran on the GUI thread (R10).
    Change ``rows`` and call :meth:`write` to simulate the projector changing the lists.
    """

    def __init__(self, path: Path, rows: list[OrderRow]) -> None:
        from desktop_app.bootstrap import bootstrap
        from desktop_app.config import Settings

        self.app = bootstrap(Settings.default(path), source="test")
        self.rows = rows
        self.calls: list[Any] = []
        self.gui_thread_calls = 0
        self.lock = threading.Lock()
        self.write()

    def write(self) -> None:
        """Replace the read model's lists with ``rows`` in one transaction."""
        work = WorkingSet()
        for r in self.rows:
            work.orders[r.order_id] = OrderState(
                order_id=r.order_id,
                order_number=r.order_number,
                customer_id=r.customer_id,
                customer_name=r.customer_name,
                status=r.status,
                line_count=r.line_count,
                total_minor=r.total_minor,
                currency=r.currency,
                placed_at=r.placed_utc,
                updated_at=r.updated_utc,
                version=r.version,
                last_position=r.last_position,
            )
            customer = work.customers.get(r.customer_id)
            if customer is None:
                customer = work.customers[r.customer_id] = CustomerState(
                    customer_id=r.customer_id,
                    name=r.customer_name,
                    order_count=0,
                    lifetime_value={},
                    version=1,
                )
            customer.order_count += 1
        assert self.app.read_model is not None and self.app.projector is not None
        assert self.app.read_model.target.claim(self.app.projector.name)  # the one writer (R33)
        self.app.read_model.target.replace_all(self.app.projector.checkpoint_name, work, 0)

    def handles(self, query_type: type) -> bool:
        return bool(self.app.queries.handles(query_type))

    def ask(self, query: Any) -> Any:
        app = QCoreApplication.instance()
        on_gui = app is not None and QThread.currentThread() is app.thread()
        with self.lock:
            self.calls.append(query)
            if on_gui:
                self.gui_thread_calls += 1
        return self.app.queries.ask(query)

    def list_calls(self) -> list[ListOrders]:
        with self.lock:
            return [c for c in self.calls if isinstance(c, ListOrders)]

    def close(self) -> None:
        self.app.close()


@pytest.fixture
def listed(tmp_path: Path) -> Iterator[Callable[[int], ListedOrders]]:
    """``listed(n)``: a real app whose order list holds ``make_row(0..n-1)``."""
    made: list[ListedOrders] = []

    def make(count: int) -> ListedOrders:
        orders = ListedOrders(
            tmp_path / f"orders-{len(made)}.sqlite3", [make_row(i) for i in range(count)]
        )
        made.append(orders)
        return orders

    yield make
    for orders in made:
        orders.close()


@pytest.fixture
def tasks(qtbot: Any) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    # Let every job report back before widgets and buses go away.
    qtbot.waitUntil(lambda: runner.pending() == 0, timeout=10000)
    runner.wait_idle(10000)


@pytest.fixture
def list_queries(listed: Callable[[int], ListedOrders]) -> ListedOrders:
    """2,000 orders in a real read model, behind the real query bus."""
    return listed(2000)


@pytest.fixture
def bridge() -> Bridge:
    return Bridge()


@pytest.fixture
def ui_settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def store_info(tmp_path: Path) -> StoreInfo:
    return StoreInfo(
        location=str(tmp_path / "orders.sqlite3"),
        read_only=False,
        schema_version=1,
        details={"sqlite_version": "3.40.1"},
    )


@pytest.fixture
def read_only_info(store_info: StoreInfo) -> StoreInfo:
    return replace(
        store_info,
        read_only=True,
        read_only_reason="the database file is read-only (you do not have permission to "
        "change it).",
    )


@pytest.fixture
def commands(list_queries: ListedOrders) -> Any:
    """The real command bus of the app behind ``list_queries``."""
    return list_queries.app.commands


# --- a real application on a SQLite file --------------------------------------------------


@dataclass
class RealApp:
    app: Any
    path: Path

    def catch_up(self) -> Any:
        projector = self.app.projector
        projector.run_once()
        return projector.status()


@pytest.fixture
def real_app(tmp_path: Path) -> Iterator[RealApp]:
    """A bootstrapped app on a fresh file with a little demo data, read model caught up."""
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings
    from desktop_app.demo_data import load_demo

    path = tmp_path / "orders.sqlite3"
    app = bootstrap(Settings.default(path), source="test")
    try:
        load_demo(app.commands, orders=60, seed=3, queries=app.queries)
        real = RealApp(app, path)
        real.catch_up()
        yield real
    finally:
        app.close()


def open_real_window(
    qtbot: Any,
    real: RealApp,
    bridge: Bridge,
    tasks: TaskRunner,
    settings: QSettings,
    *,
    size: tuple[int, int] | None = None,
    live: bool = True,
) -> Any:
    """The main window on a real app, shown, with its first page of orders loaded;
    ``live``: the projector's status reaches the window through the bridge."""
    from desktop_app.ui.main_window import MainWindow

    app = real.app
    if live:
        app.projector.add_listener(bridge.publish_projector_status)
    win = MainWindow(app.commands, app.queries, bridge, tasks, app.info, settings=settings)
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(win.orders.model.loaded, timeout=10000):
        win.start()
    return win
