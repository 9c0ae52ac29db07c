"""Auditors' notes on a real SQLite file (issue 11): the projector passes over them leaving
every read-model row as it was (incrementally and in a rebuild), ``verify`` checks them like any
stream, and the CLI annotates and prints the notes beside the events in ``history``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.annotations import notes_stream
from desktop_app.application.audit import verify_history
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.identity import os_user
from tests.integration.cli.support import cli, one_error_line
from tests.integration.read_side.support import dump_read_model, rebuilt_copy


def _app(path: Path) -> App:
    return bootstrap(Settings(db_path=path), source="test")


def _order(app: App) -> tuple[str, str]:
    customer = c.RegisterCustomer(name="Müller GmbH")
    product = c.AddProduct(sku="MUG-1", name="Blue Mug", price=Decimal("4.50"), currency="EUR")
    app.commands.dispatch(customer)
    app.commands.dispatch(product)
    place = c.PlaceOrder(
        customer_id=customer.customer_id,
        lines=(c.LineInput(product_id=product.product_id, quantity=2),),
    )
    app.commands.dispatch(place)
    app.commands.dispatch(c.ConfirmOrder(order_id=place.order_id))
    number = app.queries.ask(q.GetOrderAtVersion(order_id=place.order_id)).state["order_number"]
    return place.order_id, str(number)


def test_notes_leave_the_read_model_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path)
    try:
        order, _ = _order(app)
        assert app.projector is not None
        app.projector.run_once()
        before = dump_read_model(path)
        app.commands.dispatch(c.AnnotateOrder(order_id=order, text="Checked", target_version=2))
        app.commands.dispatch(c.AnnotateOrder(order_id=order, text="Whole order fine"))
        app.projector.run_once()
        status = app.projector.status()
        assert status.last_error is None and status.lag == 0
        assert dump_read_model(path) == before
        assert app.events.stream_version(notes_stream(order)) == 2
        result = verify_history(app.events, app.snapshots)
        assert result.ok and result.streams_checked == 4, result.findings  # with the notes
    finally:
        app.close()
    assert rebuilt_copy(path, tmp_path) == before


def test_cli_annotates_and_history_shows_notes_beside_their_events(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path)
    try:
        order, number = _order(app)
    finally:
        app.close()
    first = cli("annotate", number, "--version", "2", "--text", "Mug count phoned in", "--db", path)
    assert first.out.startswith("Note ") and "event v2" in first.out
    note_id = first.out.split()[1]
    cli("annotate", order, "--text", "Order checked\nagainst the invoice", "--db", path)
    cli("annotate", number, "--text", "It was 3 mugs", "--corrects", note_id, "--db", path)
    history = cli("history", number, "--db", path)
    header, *lines = history.lines
    assert header.endswith("3 events, 3 auditor's notes"), header
    # Notes on the whole order first, then each event followed by its notes.
    assert lines[0].split()[0] == "note" and "Order checked / against the invoice" in lines[0]
    assert f"corrects {note_id}" in lines[1] and "It was 3 mugs" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "note", "3"]
    assert "Mug count phoned in" in lines[4] and f"note {note_id}; corrected by" in lines[4]
    assert os_user() in lines[4]
    # Refused: the order, the event, the text, the corrected note must exist.
    one_error_line(cli("annotate", "SO-999999", "--text", "x", "--db", path, expect=2), "SO-999999")
    one_error_line(
        cli("annotate", number, "--version", "9", "--text", "x", "--db", path, expect=2),
        "no event at version 9",
    )
    one_error_line(cli("annotate", number, "--text", "  ", "--db", path, expect=2), "Enter a note")
    one_error_line(
        cli("annotate", number, "--text", "x", "--corrects", "nope", "--db", path, expect=2),
        "no note 'nope'",
    )
    # The refused annotations are rejections of the order, shown in its history.
    refused = cli("rejections", "--db", path).lines
    assert [line.split()[5] for line in refused] == ["AnnotateOrder"] * 3
    assert all(f"order-{order}" in line for line in refused)
    # An event named by its log position (as verify and the JSON history name it).
    lines_json = [json.loads(line) for line in cli("history", order, "--json", "--db", path).lines]
    # --json has every line of the text history, each with its kind: the notes on the order,
    # the events with the notes on them, the refused annotations (recorded after v3) last.
    assert [e["kind"] for e in lines_json] == [
        *["note"] * 2,
        "event",
        "event",
        "note",
        "event",
        *["rejection"] * 3,
    ]
    notes_json = [e for e in lines_json if e["kind"] == "note"]
    assert [n["text"] for n in notes_json] == [
        "Order checked\nagainst the invoice",
        "It was 3 mugs",
        "Mug count phoned in",
    ]
    assert notes_json[2]["corrected_by"] == [notes_json[1]["note_id"]]
    assert notes_json[2]["target_version"] == 2 and notes_json[2]["notes_version"] == 1
    assert all("version" not in n for n in notes_json)  # never taken for an order version
    assert {r["command_type"] for r in lines_json if r["kind"] == "rejection"} == {"AnnotateOrder"}
    entries = [e for e in lines_json if e["kind"] == "event"]
    assert [e["version"] for e in entries] == [1, 2, 3]
    by_position = cli(
        "annotate",
        number,
        "--position",
        str(entries[2]["position"]),
        "--text",
        "Confirmed ok",
        "--db",
        path,
    )
    assert f"the event at position {entries[2]['position']:,}" in by_position.out
    after = cli("history", number, "--db", path).lines
    v3 = next(i for i, line in enumerate(after) if line.split()[0] == "3")
    assert "Confirmed ok" in after[v3 + 1]
    # The file still verifies (exit 0): the notes are in the chain and legal.
    cli("verify", "--db", path)
