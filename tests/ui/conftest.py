"""Fixtures for the GUI tests: a TaskRunner that is drained after each test, a fake query bus
over in-memory rows (for model tests that need thousands of rows fast) and a real application on
a SQLite file in tmp_path (for the shell and live-refresh tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QThread

from desktop_app.application.ports import StoreInfo
from desktop_app.application.queries import (
    CustomerRow,
    GetProjectorStatus,
    ListCustomers,
    ListOrders,
    OrderRow,
    Page,
    ProjectorStatus,
)
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.tasks import TaskRunner

STATUSES = ("pending", "confirmed", "shipped", "delivered", "cancelled")
_SORT_KEYS = {
    "order_number": lambda r: r.order_number,
    "customer_name": lambda r: r.customer_name.casefold(),
    "status": lambda r: r.status,
    "line_count": lambda r: r.line_count,
    "total": lambda r: r.total_minor,
    "placed_at": lambda r: r.placed_at,
    "updated_at": lambda r: r.updated_at,
    "version": lambda r: r.version,
}


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
        placed_at=base + timedelta(minutes=i),
        updated_at=base + timedelta(minutes=i, seconds=30),
        version=2 + i % 11,
        last_position=i * 3,
    )


@dataclass
class FakeQueries:
    """A query bus over a list of rows; records the thread of every call (R10)."""

    rows: list[OrderRow]
    checkpoint: int = 0

    def __post_init__(self) -> None:
        self.calls: list[Any] = []
        self.gui_thread_calls = 0
        self.lock = threading.Lock()
        self.fail: BaseException | None = None

    def handles(self, query_type: type) -> bool:
        return query_type in (ListOrders, ListCustomers, GetProjectorStatus)

    def ask(self, query: Any) -> Any:
        app = QCoreApplication.instance()
        on_gui = app is not None and QThread.currentThread() is app.thread()
        with self.lock:
            self.calls.append(query)
            if on_gui:
                self.gui_thread_calls += 1
            rows = list(self.rows)
        if self.fail is not None:
            raise self.fail
        if isinstance(query, ListOrders):
            return self._list(query, rows)
        if isinstance(query, ListCustomers):
            seen: dict[str, str] = {}
            for r in rows:
                seen.setdefault(r.customer_id, r.customer_name)
            return [
                CustomerRow(customer_id=cid, name=name, order_count=0, lifetime_value=(), version=1)
                for cid, name in sorted(seen.items(), key=lambda kv: kv[1])
            ]
        if isinstance(query, GetProjectorStatus):
            return ProjectorStatus(
                checkpoint=self.checkpoint,
                head=self.checkpoint,
                lag=0,
                events_per_second=0.0,
                running=True,
            )
        raise LookupError(type(query).__name__)

    @staticmethod
    def _list(query: ListOrders, rows: list[OrderRow]) -> Page[OrderRow]:
        if query.statuses:
            rows = [r for r in rows if r.status in query.statuses]
        if query.customer_id:
            rows = [r for r in rows if r.customer_id == query.customer_id]
        if query.search:
            needle = query.search.casefold()
            rows = [
                r
                for r in rows
                if needle in r.order_number.casefold() or needle in r.customer_name.casefold()
            ]
        key = _SORT_KEYS[query.sort]
        rows.sort(key=lambda r: (key(r), r.order_id), reverse=query.descending)
        start = query.offset
        if query.after is not None:  # keyset: the cursor is the previous page's last order id
            start = next(i for i, r in enumerate(rows) if r.order_id == query.after) + 1
        page = rows[start : start + query.limit]
        more = start + query.limit < len(rows)
        return Page(
            rows=tuple(page),
            total=len(rows) if query.with_total else None,
            offset=query.offset,
            next_after=page[-1].order_id if more and page else None,
        )

    def list_calls(self) -> list[ListOrders]:
        with self.lock:
            return [c for c in self.calls if isinstance(c, ListOrders)]


@pytest.fixture
def tasks(qtbot: Any) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    # Let every job report back before widgets and buses go away.
    qtbot.waitUntil(lambda: runner.pending() == 0, timeout=10000)
    runner.wait_idle(10000)


@pytest.fixture
def fake_queries() -> FakeQueries:
    return FakeQueries([make_row(i) for i in range(2000)])


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


class NullCommands:
    """A command bus that refuses everything (the fake-backed window never writes)."""

    def dispatch(self, command: Any) -> Any:
        raise AssertionError(f"unexpected command {command!r}")

    def handles(self, command_type: type) -> bool:
        return False


@pytest.fixture
def null_commands() -> NullCommands:
    return NullCommands()


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
