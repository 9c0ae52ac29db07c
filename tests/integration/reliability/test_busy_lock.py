"""R8 across processes, through the command bus: another process holds the write lock.

The holder is a real child process with ``BEGIN IMMEDIATE`` on a plain sqlite3 connection. A
short hold is waited out; a hold longer than the busy timeout becomes ``StoreBusyError`` with a
message for the clerk, and nothing at all is written.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application.ports import StoreBusyError
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from tests.integration.reliability.children import PRODUCT_ID, seed_order
from tests.integration.reliability.support import (
    child,
    command_state,
    finish,
    integrity_ok,
    plain,
    read_json_line,
)

ORDER_ID = "order-busy"


def _app(path: Path, busy_timeout_ms: int) -> App:
    return bootstrap(Settings(db_path=path, busy_timeout_ms=busy_timeout_ms), source="test")


def _facts(path: Path) -> tuple[int, int, list[tuple[str, int]]]:
    """(events, commands rows, sequences) as stored."""
    con = plain(path)
    try:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        commands = con.execute("SELECT count(*) FROM commands").fetchone()[0]
        sequences = con.execute("SELECT name, value FROM sequences ORDER BY name").fetchall()
        return events, commands, sequences
    finally:
        con.close()


def test_r8_command_waits_for_a_lock_another_process_holds_briefly(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path, busy_timeout_ms=3000)
    try:
        base = seed_order(app, ORDER_ID)
        holder = child("hold-lock", str(path), "1.0")
        assert read_json_line(holder) == {"locked": True}
        started = time.monotonic()
        result = app.commands.dispatch(
            c.AddOrderLine(
                order_id=ORDER_ID,
                expected_version=base,
                line=c.LineInput(product_id=PRODUCT_ID, quantity=2),
            )
        )
        waited = time.monotonic() - started
        assert finish(holder) == [{"released": True}]
        assert waited >= 0.3, f"the write did not wait for the lock ({waited:.2f} s)"
        assert result.version == base + 1 and not result.duplicate
        assert app.events.stream_version(app.deps.orders.stream_id(ORDER_ID)) == base + 1
    finally:
        app.close()
    integrity_ok(path)


@pytest.mark.parametrize("kind", ["change_order", "place_order"])
def test_r8_lock_held_past_the_timeout_gives_busy_and_writes_nothing(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "orders.sqlite3"
    seeding = _app(path, busy_timeout_ms=3000)
    try:
        base = seed_order(seeding, ORDER_ID)
    finally:
        seeding.close()
    # A new app: it has no order numbers reserved, so PlaceOrder must write to get one.
    app = _app(path, busy_timeout_ms=300)
    try:
        command: c.Command
        if kind == "change_order":
            command = c.ChangeLineQuantity(
                order_id=ORDER_ID, expected_version=base, line_id="line-0", quantity=7
            )
        else:
            command = c.PlaceOrder(
                customer_id="cust-r", lines=(c.LineInput(product_id=PRODUCT_ID, quantity=3),)
            )
        before = _facts(path)
        holder = child("hold-lock", str(path), "2.0")
        assert read_json_line(holder) == {"locked": True}
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as info:
            app.commands.dispatch(command)
        gave_up = time.monotonic() - started
        message = str(info.value)
        assert "busy" in message.lower() and "try again" in message.lower()
        assert "sqlite" not in message.lower() and "locked" not in message.lower()
        assert not isinstance(info.value, sqlite3.Error)
        assert 0.2 <= gave_up < 2.0, gave_up
        # Nothing partial: no event, no commands row, no order number taken.
        assert _facts(path) == before
        assert command_state(path, command.command_id) is None
        assert finish(holder) == [{"released": True}]

        # The form kept its input: Save again sends the same command, which now goes through.
        result = app.commands.dispatch(command)
        assert not result.duplicate
        state = command_state(path, command.command_id)
        assert state is not None and state[0] == result.version
        events, commands, _ = _facts(path)
        assert (events, commands) == (before[0] + (state[2] - state[1] + 1), before[1] + 1)
        assert app.events.verify().ok
    finally:
        app.close()
    integrity_ok(path)
