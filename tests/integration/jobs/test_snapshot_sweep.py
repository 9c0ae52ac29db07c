"""The snapshot sweep takes snapshots of long streams that lack a recent one."""

from __future__ import annotations

from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.application.repository import decode
from desktop_app.bootstrap import App
from desktop_app.domain.order import Order
from desktop_app.jobs import SNAPSHOT_JOB, JobsConfig, build_jobs
from desktop_app.store.maintenance import streams_behind_snapshot

from .support import WAIT, add_customer, add_product, open_app, place_order, wait_for


def test_sweep_snapshots_long_order_streams(db: Path) -> None:
    # Written by a program whose automatic snapshots were off: long streams, no snapshots.
    writer = open_app(db, snapshot_interval=0)
    try:
        customer = add_customer(writer)
        product = add_product(writer)
        long_order = place_order(writer, customer, product)
        short_order = place_order(writer, customer, product)
        state = writer.deps.orders.load(long_order).to_snapshot()
        line_id = str(state["lines"][0]["line_id"])  # type: ignore[index,call-overload]
        for quantity in range(2, 62):
            writer.commands.dispatch(
                c.ChangeLineQuantity(order_id=long_order, line_id=line_id, quantity=quantity)
            )
        long_version = writer.events.stream_version(f"order-{long_order}")
        assert long_version >= 60
        assert writer.snapshots.latest_snapshot(f"order-{long_order}") is None
    finally:
        writer.close()

    app = open_app(db, snapshot_interval=25)
    try:
        assert app.database is not None
        behind = streams_behind_snapshot(app.database, "order-", 25)
        assert [lag.stream_id for lag in behind] == [f"order-{long_order}"]
        jobs = build_jobs(
            app,
            JobsConfig(
                snapshot_sweep_seconds=0.1,
                checkpoint_check_seconds=None,
                backup_interval_seconds=None,
            ),
            backups=False,
        )
        with jobs:
            assert wait_for(lambda: SNAPSHOT_JOB in jobs.status(), WAIT)
            assert wait_for(
                lambda: app.snapshots.latest_snapshot(f"order-{long_order}") is not None, WAIT
            )
        snapshot = app.snapshots.latest_snapshot(f"order-{long_order}")
        assert snapshot is not None and snapshot.version == long_version
        assert app.snapshots.latest_snapshot(f"order-{short_order}") is None  # short: no need
        assert streams_behind_snapshot(app.database, "order-", 25) == []
        status = jobs.status()[SNAPSHOT_JOB]
        assert status.failures == 0
        # Snapshot + tail equals a full replay.
        from_snapshot = app.deps.orders.load(long_order)
        assert from_snapshot.version == long_version
        assert from_snapshot.to_snapshot() == _replayed(app, long_order)
    finally:
        app.close()


def _replayed(app: App, order_id: str) -> object:
    events = app.events.read_stream(f"order-{order_id}")
    return Order.replay(order_id, [decode(e) for e in events]).to_snapshot()
