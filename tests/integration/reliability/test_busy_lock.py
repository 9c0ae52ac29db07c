"""R8 across processes, through the command bus: another process holds the write lock.

The holder is a real child process with ``BEGIN IMMEDIATE`` on a plain sqlite3 connection,
holding the lock until the test lets go (never for a fixed time, which a busy machine would
stretch or shrink). A hold within the busy timeout is waited out; a hold longer than the busy
timeout becomes ``StoreBusyError`` with a message for the clerk, and nothing at all is written.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

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
PATIENT_MS = 240_000
"""A busy timeout far longer than any lock a test holds on purpose."""


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
    app = _app(path, busy_timeout_ms=PATIENT_MS)
    try:
        base = seed_order(app, ORDER_ID)
        holder = child("hold-lock", str(path))
        assert read_json_line(holder) == {"locked": True}
        outcome: dict[str, Any] = {}

        def save() -> None:
            try:
                outcome["result"] = app.commands.dispatch(
                    c.AddOrderLine(
                        order_id=ORDER_ID,
                        expected_version=base,
                        line=c.LineInput(product_id=PRODUCT_ID, quantity=2),
                    )
                )
            except BaseException as exc:
                outcome["error"] = exc

        clerk = threading.Thread(target=save)
        clerk.start()
        # While the other process holds the lock the command cannot finish, however long we
        # look (a slow machine only makes the look shorter than the wait).
        clerk.join(0.5)
        assert clerk.is_alive(), outcome
        assert finish(holder) == [{"released": True}]
        clerk.join(60)
        assert not clerk.is_alive()
        assert "error" not in outcome, outcome
        result = outcome["result"]
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
        holder = child("hold-lock", str(path))  # held until both looks below are done
        assert read_json_line(holder) == {"locked": True}
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as info:
            app.commands.dispatch(command)
        waited = time.monotonic() - started
        message = str(info.value)
        assert "busy" in message.lower() and "try again" in message.lower()
        assert "sqlite" not in message.lower() and "locked" not in message.lower()
        assert not isinstance(info.value, sqlite3.Error)
        # It waited for the lock first (a lower bound: a slow machine cannot break it); that
        # it gave up at all while the lock is still held shows it does not wait forever.
        assert waited >= 0.2, waited
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
