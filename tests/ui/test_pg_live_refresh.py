"""Live refresh across workstations on a server: a commit made on one workstation appears in
the order list of another one's window, woken by NOTIFY alone (polls an hour apart). The
read model's owner is another process (``tests.fixtures.pg_workstation``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.jobs import JobsConfig, build_jobs
from desktop_app.store.postgres.database import init_postgres
from desktop_app.ui.bridge import Bridge
from tests.fixtures.pg_station import (
    HOUR,
    Station,
    listeners,
    owner_pid,
    wait_until,
)
from tests.ui.conftest import RealApp, open_real_window


def test_a_commit_elsewhere_appears_in_this_window(
    qtbot: Any,
    pg_url: str,
    tmp_path: Path,
    bridge: Bridge,
    tasks: Any,
    ui_settings: QSettings,
) -> None:
    init_postgres(pg_url)
    owner = Station(pg_url, tmp_path / "k1", HOUR, "owner")
    here = bootstrap(
        Settings.for_location(ServerLocation(pg_url), key_dir=tmp_path / "k2"), source="test"
    )
    elsewhere = bootstrap(
        Settings.for_location(ServerLocation(pg_url), key_dir=tmp_path / "k3"), source="test"
    )
    assert here.projector is not None
    # The GUI's own job wiring (on a server: the projector job only), polls an hour apart.
    jobs = build_jobs(here, JobsConfig(projector_poll_seconds=HOUR))
    try:
        wait_until(lambda: owner_pid(pg_url) == owner.proc.pid, "the other process to project")
        jobs.start()
        win = open_real_window(qtbot, RealApp(here, tmp_path), bridge, tasks, ui_settings)
        model = win.orders.model
        qtbot.waitUntil(lambda: here.projector.status().owner is not None, timeout=30000)
        wait_until(lambda: listeners(pg_url) >= 3, "three listening workstations")
        product = elsewhere.commands.dispatch(
            c.AddProduct(sku="MUG-1", name="Mug", price=Decimal("2.50"), currency="EUR")
        )
        customer = elsewhere.commands.dispatch(c.RegisterCustomer(name="Ann"))
        line = c.LineInput(product_id=product.aggregate_id, quantity=2)
        order = elsewhere.commands.dispatch(
            c.PlaceOrder(customer_id=customer.aggregate_id, lines=(line,))
        )
        qtbot.waitUntil(lambda: model.find_row(order.aggregate_id) is not None, timeout=30000)
        row = model.row_at(model.find_row(order.aggregate_id))  # type: ignore[arg-type]
        assert row is not None and row.customer_name == "Ann"
    finally:
        jobs.shutdown()
        owner.stop()
        elsewhere.close()
        here.close()
