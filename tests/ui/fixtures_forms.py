"""Shared set-up for the order-form, detail-panel and catalog tests: a real SQLite file in
tmp_path through the real bootstrap, a little catalog, and helpers to drive the widgets."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QLocale

from desktop_app.application import commands as c
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.ui.tasks import TaskRunner


@dataclass
class Shop:
    """A bootstrapped app with a small catalog and the ids of what was made."""

    app: App
    tasks: TaskRunner
    path: Path
    customers: dict[str, str]
    products: dict[str, str]

    @property
    def commands(self) -> Any:
        return self.app.commands

    @property
    def queries(self) -> Any:
        return self.app.queries

    def catch_up(self) -> None:
        """Bring the read model up to date (the scheduler is not running in tests)."""
        assert self.app.projector is not None
        self.app.projector.run_once()

    def place(self, customer: str, *lines: tuple[str, int]) -> str:
        """Place an order directly through the bus; returns its id."""
        result = self.commands.dispatch(
            c.PlaceOrder(
                customer_id=self.customers[customer],
                lines=tuple(
                    c.LineInput(product_id=self.products[sku], quantity=qty) for sku, qty in lines
                ),
            )
        )
        return result.aggregate_id


# The offscreen platform cannot raise windows or grab the keyboard (popups, dialogs); those
# are its limits, not our warnings.
QT_OFFSCREEN_NOISE = pytest.mark.qt_log_ignore(r"This plugin does not support")

CUSTOMERS = ("Acme Trading Ltd", "Blue Harbour Café", "Northwind Traders", "Zeta Supplies")
PRODUCTS = (
    ("MUG-BLUE", "Blue Mug", "4.50"),
    ("MUG-RED", "Red Mug", "4.75"),
    ("TEA-EARL", "Earl Grey Tea 250 g", "7.20"),
    ("PLATE-XL", "Dinner Plate XL", "12.00"),
    ("OLD-CUP", "Old Cup", "2.00"),
)


def make_shop(path: Path, *, busy_timeout_ms: int = 5000) -> Shop:
    """A fresh database with four customers and five products (OLD-CUP discontinued)."""
    app = bootstrap(Settings(db_path=path, busy_timeout_ms=busy_timeout_ms), source="test")
    customers = {}
    for name in CUSTOMERS:
        customers[name] = app.commands.dispatch(c.RegisterCustomer(name=name)).aggregate_id
    products = {}
    for sku, name, price in PRODUCTS:
        products[sku] = app.commands.dispatch(
            c.AddProduct(sku=sku, name=name, price=Decimal(price), currency="EUR")
        ).aggregate_id
    app.commands.dispatch(c.DiscontinueProduct(product_id=products["OLD-CUP"]))
    assert app.projector is not None
    app.projector.run_once()
    return Shop(app=app, tasks=TaskRunner(), path=path, customers=customers, products=products)


@pytest.fixture(name="shop")
def shop_fixture(tmp_path: Path, qapp: Any) -> Iterator[Shop]:
    """A fresh shop per test (busy timeout 200 ms so the busy case is quick)."""
    previous = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    made = make_shop(tmp_path / "orders.sqlite3", busy_timeout_ms=200)
    try:
        yield made
    finally:
        made.tasks.wait_idle(10000)
        qapp.processEvents()
        made.app.close()
        QLocale.setDefault(previous)


def wait_idle(qtbot: Any, shop: Shop, timeout: int = 10000) -> None:
    """Wait until every background task has reported back on the GUI thread."""
    qtbot.waitUntil(lambda: shop.tasks.pending() == 0, timeout=timeout)


def shown_preview(qtbot: Any, dialog: Any, timeout: int = 10000) -> Any:
    """The "check before saving" dialog an order form opened after Save (issue 11)."""
    qtbot.waitUntil(
        lambda: dialog.preview_dialog is not None and dialog.preview_dialog.isVisible(),
        timeout=timeout,
    )
    return dialog.preview_dialog


def confirm_preview(qtbot: Any, shop: Shop, dialog: Any) -> Any:
    """Wait for the form's preview and confirm it with Enter (the real command is sent)."""
    from PySide6.QtCore import Qt

    preview = shown_preview(qtbot, dialog)
    assert preview.confirm_button.isEnabled(), preview.text()
    qtbot.keyClick(preview, Qt.Key.Key_Return)
    wait_idle(qtbot, shop)
    return preview
