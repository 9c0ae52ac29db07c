"""R27: ``verify`` replays every stream; illegal events and false snapshots are named.

The forgeries are written with plain ``sqlite3`` into a real file and keep the hash chain valid
(each forged row is hashed with the public formula and linked to the head, or the chain is
recomputed after it), so the chain check alone passes and only the replay can catch them.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application.audit import _Audit, verify_history
from desktop_app.application.ports import VerifyFinding, VerifyResult
from desktop_app.bootstrap import App, bootstrap
from desktop_app.cli import main as cli_main
from desktop_app.config import Settings
from desktop_app.store.hashing import GENESIS_HASH, row_hash
from desktop_app.store.records import snapshot_checksum
from tests.unit.application.helpers import World

_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, payload, metadata, "
    "recorded_at, prev_hash, hash"
)


def _open(path: Path, keys: Path, *, read_only: bool = False) -> App:
    return bootstrap(
        Settings(db_path=path, key_dir=keys, read_only=read_only, snapshot_interval=0),
        source="test",
    )


class Desk:
    """A real file with three orders: cancelled (SO-1), pending (SO-2), confirmed (SO-3)."""

    def __init__(self, path: Path, keys: Path) -> None:
        self.path, self.keys = path, keys
        app = _open(path, keys)
        try:
            world = World(app)
            self.cancelled = world.place(2)
            world.send(c.CancelOrder(order_id=self.cancelled, reason="duplicate"))
            world.send(c.TakeSnapshot(order_id=self.cancelled))
            self.pending = world.place(1)
            self.confirmed = world.place(3)
            world.send(c.ConfirmOrder(order_id=self.confirmed))
            self.mug = world.mug
            self.world = world
            self.numbers = {
                order_id: str(world.state(order_id).state["order_number"])
                for order_id in (self.cancelled, self.pending, self.confirmed)
            }
        finally:
            app.close()

    def verify(self, keys: Path | None = None, *, chain_only: bool = False) -> VerifyResult:
        app = _open(self.path, keys or self.keys, read_only=True)
        try:
            return verify_history(app.events, app.snapshots, chain_only=chain_only)
        finally:
            app.close()

    def append_forged(self, order_id: str, type_name: str, schema: int, payload: dict) -> int:
        """Append an event the program would refuse, hashed and linked like a real one (an
        INSERT at the end: the append-only triggers allow it). Returns its position."""
        con = sqlite3.connect(self.path, isolation_level=None)
        try:
            stream = f"order-{order_id}"
            position, head = con.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            version, metadata, recorded_at = con.execute(
                "SELECT version, metadata, recorded_at FROM events WHERE stream_id = ? "
                "ORDER BY version DESC LIMIT 1",
                (stream,),
            ).fetchone()
            text = json.dumps(
                {"order_id": order_id, **payload}, sort_keys=True, separators=(",", ":")
            )
            row = (
                position + 1,
                stream,
                version + 1,
                f"forged-{position + 1}",
                type_name,
                schema,
                text,
                metadata,
                recorded_at,
            )
            con.execute(
                f"INSERT INTO events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                (*row, head, row_hash(head, *row)),
            )
            return int(row[0])
        finally:
            con.close()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield Desk(tmp_path / "orders.sqlite3", tmp_path / "keys")


def _finding(result: VerifyResult, position: int) -> VerifyFinding:
    [found] = [f for f in result.findings if f.position == position]
    return found


def test_an_honest_desk_verifies_fully(desk: Desk) -> None:
    result = desk.verify()
    assert result.ok and result.semantic and result.finding_count == 0
    assert result.streams_checked == 3 + 3  # three orders, one customer, two products
    assert result.snapshots_checked == 1 and result.notes == ()


def test_forged_illegal_events_with_a_valid_chain_are_named(desk: Desk) -> None:
    line = {
        "line_id": "forged-line",
        "product_id": desk.mug,
        "sku": "MUG-1",
        "product_name": "Blue Mug",
        "quantity": 5,
        "unit_price": {"amount": "4.50", "currency": "EUR"},
    }
    added = desk.append_forged(desk.cancelled, "OrderLineAdded", 1, line)
    shipped = desk.append_forged(
        desk.pending, "OrderShipped", 2, {"tracking_number": "TRK-1", "carrier": ""}
    )
    delivered = desk.append_forged(desk.confirmed, "OrderDelivered", 1, {})

    chain = desk.verify(chain_only=True)
    assert chain.ok and not chain.semantic  # every hash matches: the chain cannot tell

    result = desk.verify()
    assert not result.ok and result.finding_count == 3
    assert result.first_bad_position is None  # the chain itself holds
    cases = [
        (added, desk.cancelled, "OrderLineAdded", "This order is cancelled"),
        (shipped, desk.pending, "OrderShipped", "only be shipped once it is confirmed"),
        (delivered, desk.confirmed, "OrderDelivered", "once it has been shipped"),
    ]
    for position, order_id, type_name, reason in cases:
        found = _finding(result, position)
        assert found.kind == "event" and found.event_type == type_name
        assert found.order_number == desk.numbers[order_id]
        assert found.aggregate_id == order_id
        assert reason in found.reason
        assert found.describe().startswith(f"#{position:,} {desk.numbers[order_id]} v")


def test_cli_verify_reports_findings_and_chain_only_stays_quiet(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    position = desk.append_forged(desk.pending, "OrderDelivered", 1, {})
    db = str(desk.path)
    assert cli_main(["verify", "--db", db, "--chain-only"]) == 0
    assert "streams replayed" not in capsys.readouterr().out
    assert cli_main(["verify", "--db", db]) == 1
    out = capsys.readouterr().out
    number = desk.numbers[desk.pending]
    assert f"#{position:,} {number} v3 OrderDelivered: An order can only be marked delivered" in out


def test_verify_flags_a_forged_snapshot(desk: Desk) -> None:
    stream = f"order-{desk.cancelled}"
    con = sqlite3.connect(desk.path)
    with con:
        version, kind, schema, text = con.execute(
            "SELECT version, aggregate_type, schema_version, state FROM snapshots "
            "WHERE stream_id = ?",
            (stream,),
        ).fetchone()
        state = {**json.loads(text), "status": "pending", "cancel_reason": None}
        forged = json.dumps(state, sort_keys=True, separators=(",", ":"))
        con.execute(
            "UPDATE snapshots SET state = ?, checksum = ? WHERE stream_id = ?",
            (forged, snapshot_checksum(stream, version, kind, schema, forged), stream),
        )
    con.close()
    result = desk.verify()
    assert not result.ok and result.first_bad_position is None
    [found] = result.findings
    assert found.kind == "snapshot" and found.version == version
    assert found.order_number == desk.numbers[desk.cancelled]
    assert "seal does not match" in found.reason
    assert "status: stored 'pending', replay 'cancelled'" in found.reason
    # Another account (no key) cannot check the seal, but the replay still shows the lie.
    other = desk.verify(desk.keys.parent / "other-account")
    [seen] = other.findings
    assert not other.ok and "seal" not in seen.reason
    assert "status: stored 'pending', replay 'cancelled'" in seen.reason


def test_snapshot_of_a_stream_without_events_is_flagged(desk: Desk) -> None:
    con = sqlite3.connect(desk.path)
    with con:
        con.execute(
            "INSERT INTO snapshots (stream_id, version, aggregate_type, schema_version, state, "
            "checksum, size_bytes, taken_at, seal) SELECT 'order-ghost', version, "
            "aggregate_type, schema_version, state, checksum, size_bytes, taken_at, seal "
            "FROM snapshots"
        )
    con.close()
    result = desk.verify()
    assert not result.ok
    assert any(
        f.stream_id == "order-ghost" and f.kind == "snapshot" and "no event" in f.reason
        for f in result.findings
    )


def test_unreadable_payload_with_a_recomputed_chain_is_named(desk: Desk) -> None:
    con = sqlite3.connect(desk.path, isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS events_no_update")
    position = con.execute(
        "SELECT position FROM events WHERE stream_id = ? AND version = 1",
        (f"order-{desk.pending}",),
    ).fetchone()[0]
    con.execute(
        "UPDATE events SET payload = ? WHERE position = ?",
        (json.dumps({"order_id": desk.pending}), position),
    )
    prev = GENESIS_HASH
    for row in con.execute(f"SELECT {_COLUMNS} FROM events ORDER BY position").fetchall():  # noqa: S608
        digest = row_hash(prev, *row[:9])
        con.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE position = ?", (prev, digest, row[0])
        )
        prev = digest
    con.close()
    result = desk.verify()
    assert result.first_bad_position is None and not result.ok
    found = _finding(result, position)
    assert found.event_type == "OrderPlaced" and "unreadable" in found.reason


def test_events_and_snapshots_recorded_during_verify_are_not_findings(desk: Desk) -> None:
    """The replay reads one snapshot of the log; snapshots of events appended after that (a
    clerk working while an auditor verifies) are left for the next run, not flagged."""
    app = _open(desk.path, desk.keys)
    try:
        world = World(app, like=desk.world)
        streams = app.events.iter_streams()
        first = next(streams)  # the replay's read transaction is open from here
        later = world.place(2)
        world.send(c.TakeSnapshot(order_id=later))
        world.send(c.ConfirmOrder(order_id=desk.pending))
        world.send(c.TakeSnapshot(order_id=desk.pending))
        audit = _Audit(0, None)
        audit.run(itertools.chain([first], streams), app.snapshots.iter_snapshots())
        assert audit.count == 0, [f.describe() for f in audit.findings]
        assert audit.newer == 2 and "verify again" in next(audit.notes())
    finally:
        app.close()
    assert desk.verify().finding_count == 0  # the next run compares them


def test_a_forged_edit_of_lines_is_named_with_the_one_line_rule(desk: Desk) -> None:
    added = {
        "line_id": "forged-line",
        "product_id": desk.mug,
        "sku": "MUG-1",
        "product_name": "Blue Mug",
        "quantity": 5,
        "unit_price": {"amount": "4.50", "currency": "EUR"},
    }
    edit = {"removed": [], "quantities": [], "added": [added]}
    on_cancelled = desk.append_forged(desk.cancelled, "OrderLinesChanged", 1, edit)
    unknown_line = {"removed": ["no-such-line"], "quantities": [], "added": []}
    on_pending = desk.append_forged(desk.pending, "OrderLinesChanged", 1, unknown_line)
    result = desk.verify()
    assert not result.ok and result.finding_count == 2
    assert "This order is cancelled" in _finding(result, on_cancelled).reason
    found = _finding(result, on_pending)
    assert found.event_type == "OrderLinesChanged"
    assert "That line is not on this order" in found.reason
