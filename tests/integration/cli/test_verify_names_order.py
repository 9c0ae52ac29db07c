"""Every ``verify`` finding names the order it belongs to (issue 11): the chain's first bad
event, not only "#1,312", carries its stream, version and order number, in the result object
(for the GUI to open the audit view there) and in the CLI's output."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from desktop_app.application.audit import verify_history
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.hashing import row_hash

from .support import attacker, cli


def _tamper_quantity(db: Path) -> tuple[int, str, int, str]:
    """Flip a digit in a line's quantity; returns (position, stream, version, order number)."""
    con = attacker(db)
    try:
        position, stream_id, version, payload = con.execute(
            "SELECT position, stream_id, version, payload FROM events"
            " WHERE type_name = 'OrderLineAdded' ORDER BY position LIMIT 1 OFFSET 5"
        ).fetchone()
        index = payload.index('"quantity":') + len('"quantity":')
        digit = payload[index]
        flipped = payload[:index] + ("9" if digit != "9" else "8") + payload[index + 1 :]
        con.execute("UPDATE events SET payload = ? WHERE position = ?", (flipped, position))
        (placed,) = con.execute(
            "SELECT payload FROM events WHERE stream_id = ? AND version = 1", (stream_id,)
        ).fetchone()
    finally:
        con.close()
    return position, stream_id, version, json.loads(placed)["order_number"]


def test_chain_problem_names_the_order_in_the_result(db: Path, tmp_path: Path) -> None:
    position, stream_id, version, number = _tamper_quantity(db)
    app = bootstrap(Settings(db_path=db, key_dir=tmp_path / "keys", read_only=True), source="test")
    try:
        for chain_only in (True, False):
            result = verify_history(app.events, app.snapshots, chain_only=chain_only)
            assert result.first_bad_position == position
            found = result.chain_finding
            assert found is not None
            assert (found.kind, found.position, found.stream_id, found.version) == (
                "chain",
                position,
                stream_id,
                version,
            )
            assert found.order_number == number
            assert found.aggregate_id == stream_id.removeprefix("order-")
            assert found.event_type == "OrderLineAdded"
            assert found.reason == result.problem
    finally:
        app.close()


def test_chain_problem_names_the_order_in_the_cli(db: Path) -> None:
    position, stream_id, version, number = _tamper_quantity(db)
    run = cli("verify", "--chain-only", "--db", db, expect=1)
    assert run.lines[0].startswith(f"TAMPERED: first bad position {position}: ")
    assert run.lines[1].startswith(f"  at #{position:,} {number} v{version} OrderLineAdded: ")
    assert run.lines[1].endswith(f" [{stream_id}]")


def test_a_deleted_event_names_no_order(db: Path) -> None:
    """Nothing is stored at a deleted position: no order is guessed."""
    con = attacker(db)
    con.execute("DELETE FROM events WHERE position = 10")
    con.close()
    run = cli("verify", "--chain-only", "--db", db, expect=1)
    assert run.lines[0].startswith("TAMPERED: first bad position 10: ")
    assert not run.lines[1].startswith("  at ")


def _rechain_from(con: sqlite3.Connection, position: int) -> None:
    """Recompute every hash from ``position`` on, as a forger with the public formula would."""
    (prev,) = con.execute("SELECT prev_hash FROM events WHERE position = ?", (position,)).fetchone()
    rows = con.execute(
        "SELECT position, stream_id, version, event_id, type_name, schema_version, payload, "
        "metadata, recorded_at FROM events WHERE position >= ? ORDER BY position",
        (position,),
    ).fetchall()
    for row in rows:
        digest = row_hash(prev, *row)
        con.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE position = ?", (prev, digest, row[0])
        )
        prev = digest


def test_a_finding_on_an_orders_first_event_names_the_order(db: Path, tmp_path: Path) -> None:
    """An unreadable OrderPlaced (the chain recomputed, so only the replay sees it) is named by
    the number it carries, not only by its stream."""
    con = attacker(db)
    try:
        position, stream_id, payload = con.execute(
            "SELECT position, stream_id, payload FROM events WHERE type_name = 'OrderPlaced'"
            " ORDER BY position LIMIT 1 OFFSET 3"
        ).fetchone()
        data = json.loads(payload)
        number = data.pop("currency") and data["order_number"]
        con.execute(
            "UPDATE events SET payload = ? WHERE position = ?",
            (json.dumps(data, sort_keys=True, separators=(",", ":")), position),
        )
        _rechain_from(con, position)
    finally:
        con.close()
    app = bootstrap(Settings(db_path=db, key_dir=tmp_path / "keys", read_only=True), source="test")
    try:
        result = verify_history(app.events, app.snapshots)
    finally:
        app.close()
    assert result.first_bad_position is None  # the chain itself holds
    (found,) = [f for f in result.findings if f.position == position]
    assert (found.stream_id, found.version, found.order_number) == (stream_id, 1, number)
    assert found.describe().startswith(f"#{position:,} {number} v1 OrderPlaced: unreadable")


def test_an_undecodable_event_is_named_by_the_full_check(db: Path, tmp_path: Path) -> None:
    """A payload that is not JSON cannot be decoded by the store: the chain-only check names
    only its position; the full check's replay knows the order and version."""
    con = attacker(db)
    try:
        position, stream_id, version = con.execute(
            "SELECT position, stream_id, version FROM events WHERE type_name = 'OrderLineAdded'"
            " ORDER BY position LIMIT 1 OFFSET 4"
        ).fetchone()
        (number,) = con.execute(
            "SELECT json_extract(payload, '$.order_number') FROM events"
            " WHERE stream_id = ? AND version = 1",
            (stream_id,),
        ).fetchone()
        con.execute("UPDATE events SET payload = '{broken' WHERE position = ?", (position,))
    finally:
        con.close()
    app = bootstrap(Settings(db_path=db, key_dir=tmp_path / "keys", read_only=True), source="test")
    try:
        fast = verify_history(app.events, app.snapshots, chain_only=True)
        full = verify_history(app.events, app.snapshots)
    finally:
        app.close()
    assert fast.first_bad_position == position and fast.chain_finding is None
    found = full.chain_finding
    assert found is not None and found.kind == "chain" and found.reason == full.problem
    assert (found.position, found.stream_id, found.version, found.order_number) == (
        position,
        stream_id,
        version,
        number,
    )
