"""The audit view's per-event integrity on a real file (issue 11): an event edited in the
events table by someone with the file is drawn bad, with the reason; its neighbours stay ok."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from desktop_app.application.audit_timeline import BAD, OK, GetOrderAudit
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.demo_data import load_demo


def _attacker(path: Path) -> sqlite3.Connection:
    """A raw connection with the append-only triggers dropped, as someone with the file could."""
    con = sqlite3.connect(path, isolation_level=None)
    names = con.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='events'"
    ).fetchall()
    assert len(names) >= 2, names
    for (name,) in names:
        con.execute(f'DROP TRIGGER "{name}"')
    return con


def test_an_edited_event_is_bad_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = bootstrap(Settings.default(path), source="test")
    try:
        load_demo(app.commands, orders=8, seed=5, queries=app.queries)
    finally:
        app.close()
    con = _attacker(path)
    try:
        position, stream_id, version, payload = con.execute(
            "SELECT position, stream_id, version, payload FROM events"
            " WHERE type_name = 'OrderLineAdded' ORDER BY position LIMIT 1 OFFSET 3"
        ).fetchone()
        data = json.loads(payload)
        data["quantity"] += 40
        con.execute(
            "UPDATE events SET payload = ? WHERE position = ?",
            (json.dumps(data, separators=(",", ":"), sort_keys=True), position),
        )
    finally:
        con.close()
    app = bootstrap(Settings.default(path), source="test")
    try:
        order_id = stream_id.removeprefix("order-")
        audit = app.queries.ask(GetOrderAudit(order_id=order_id, check=True))
        states = {ev.version: ev.integrity.state for ev in audit.events}
        assert states[version] == BAD
        assert {state for v, state in states.items() if v != version} == {OK}
        (bad,) = [ev for ev in audit.events if ev.version == version]
        assert bad.position == position
        assert any("altered after it was recorded" in r for r in bad.integrity.reasons)
        # Without a check nothing is claimed: the verdict says "unchecked", never "ok".
        quick = app.queries.ask(GetOrderAudit(order_id=order_id))
        assert {ev.integrity.state for ev in quick.events} == {"unchecked"}
    finally:
        app.close()
