"""Rejected commands on a real SQLite file (issue 11): recorded through the bus, never as
events; an old file gains the table by its migration; a failing log hides no refusal; the CLI
lists them and prints them between an order's events."""

from __future__ import annotations

import json
import logging
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.domain.errors import RuleViolation
from desktop_app.identity import host_name, os_user
from desktop_app.store.engine import open_database
from desktop_app.store.schema import REJECTIONS_SINCE, SCHEMA_VERSION
from tests.integration.cli.support import cli, one_error_line


def _app(path: Path, *, read_only: bool = False) -> App:
    return bootstrap(Settings(db_path=path, read_only=read_only), source="test")


def _order(app: App) -> str:
    customer = c.RegisterCustomer(name="Müller GmbH")
    product = c.AddProduct(sku="MUG-1", name="Blue Mug", price=Decimal("4.50"), currency="EUR")
    app.commands.dispatch(customer)
    app.commands.dispatch(product)
    place = c.PlaceOrder(
        customer_id=customer.customer_id,
        lines=(c.LineInput(product_id=product.product_id, quantity=2),),
    )
    app.commands.dispatch(place)
    return place.order_id


def _table(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_refusal_is_a_row_of_the_log_not_an_event(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path)
    try:
        order = _order(app)
        head, version = app.events.head_position(), app.events.stream_version(f"order-{order}")
        with pytest.raises(RuleViolation):
            app.commands.dispatch(c.ShipOrder(order_id=order, tracking_number="T-1"))
        assert app.events.head_position() == head
        assert app.events.stream_version(f"order-{order}") == version
        assert app.events.verify().ok
    finally:
        app.close()
    rows = _table(
        path, "SELECT user, host, command_type, stream_id, error_class, message FROM rejections"
    )
    assert len(rows) == 1
    user, host, kind, stream, error, message = rows[0]
    assert (user, host, kind, stream, error) == (
        os_user(),
        host_name(),
        "ShipOrder",
        f"order-{order}",
        "RuleViolation",
    )
    assert "confirmed" in str(message)
    # Append-only in the file itself, like the events.
    con = sqlite3.connect(path)
    try:
        for sql in ("UPDATE rejections SET message = 'fine'", "DELETE FROM rejections"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()


def test_an_old_file_gains_the_rejection_log_by_its_migration(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path)
    try:
        order = _order(app)
    finally:
        app.close()
    # The file as format 4 wrote it: no rejections table.
    con = sqlite3.connect(path)
    con.execute("DROP TABLE rejections")
    con.execute(f"PRAGMA user_version = {REJECTIONS_SINCE - 1}")
    con.close()
    # Opened read-only (not upgraded): an empty log, history still readable.
    ro = _app(path, read_only=True)
    try:
        assert ro.info.schema_version == REJECTIONS_SINCE - 1
        assert ro.queries.ask(q.ListOrderRejections(order_id=order)) == []
        assert ro.queries.ask(q.ListRejections()) == []
        with pytest.raises(RuleViolation):  # refused, nothing to store it in: still refused
            ro.commands.dispatch(c.ShipOrder(order_id=order, tracking_number="T-1"))
    finally:
        ro.close()
    db = open_database(path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= REJECTIONS_SINCE
    finally:
        db.close()
    assert _table(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    indexes = {r[0] for r in _table(path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"ix_rejections_stream", "ix_rejections_time"} <= indexes
    triggers = {r[0] for r in _table(path, "SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert {"rejections_no_update", "rejections_no_delete"} <= triggers
    assert list((tmp_path / "backups").iterdir())  # the upgrade kept a copy first
    app = _app(path)
    try:
        with pytest.raises(RuleViolation):
            app.commands.dispatch(c.ShipOrder(order_id=order, tracking_number="T-1"))
        (recorded,) = app.queries.ask(q.ListOrderRejections(order_id=order))
        assert recorded.rejection.command_type == "ShipOrder"
    finally:
        app.close()


def test_a_failing_log_hides_no_refusal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path)
    try:
        order = _order(app)
        con = sqlite3.connect(path)
        con.execute("DROP TABLE rejections")  # the store fails on every record
        con.close()
        with (
            caplog.at_level(logging.WARNING, logger="desktop_app.commands"),
            pytest.raises(RuleViolation, match="confirmed"),
        ):
            app.commands.dispatch(c.ShipOrder(order_id=order, tracking_number="T-1"))
        warnings = [r for r in caplog.records if "could not record the rejection" in r.message]
        assert len(warnings) == 1 and "ShipOrder" in warnings[0].getMessage()
        # Commands that succeed are untouched by the broken log.
        app.commands.dispatch(c.ConfirmOrder(order_id=order))
    finally:
        app.close()


def test_cli_lists_rejections_and_history_shows_them_in_grey_lines(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = _app(path)
    try:
        order = _order(app)
        with pytest.raises(RuleViolation):
            app.commands.dispatch(c.ShipOrder(order_id=order, tracking_number="T-1"))
        app.commands.dispatch(c.ConfirmOrder(order_id=order))
        with pytest.raises(RuleViolation):
            app.commands.dispatch(c.ConfirmOrder(order_id=order))  # a new command: refused
        number = app.queries.ask(q.GetOrderAtVersion(order_id=order)).state["order_number"]
    finally:
        app.close()
    history = cli("history", str(number), "--db", path)
    header, *lines = history.lines
    assert header.endswith("3 events, 2 refused commands"), header
    kinds = [line.split()[0] for line in lines]
    # By time: placed (v1, v2: its line), the refused ship, confirmed (v3), the refused confirm.
    assert kinds == ["1", "2", "-", "3", "-"], history.out
    assert "refused ShipOrder" in lines[2] and "RuleViolation" in lines[2]
    assert "refused ConfirmOrder" in lines[4]
    assert "\x1b[" not in history.out  # not a terminal: no colour codes
    # --json: one object per line of the text history, each with its kind; the events'
    # objects are as they were, with "kind": "event".
    entries = [json.loads(line) for line in cli("history", order, "--json", "--db", path).lines]
    assert [e["kind"] for e in entries] == ["event", "event", "rejection", "event", "rejection"]
    assert [e["version"] for e in entries if e["kind"] == "event"] == [1, 2, 3]
    refused_json = [e for e in entries if e["kind"] == "rejection"]
    assert [r["command_type"] for r in refused_json] == ["ShipOrder", "ConfirmOrder"]
    assert refused_json[0]["error_class"] == "RuleViolation"
    assert all("version" not in r for r in refused_json)

    listed = cli("rejections", "--db", path)
    assert len(listed.lines) == 2 and "2 refused command(s)" in listed.err
    assert "ShipOrder" in listed.lines[0] and f"order-{order}" in listed.lines[0]
    assert f"{os_user()}@{host_name()}" in listed.lines[0]
    as_json = [json.loads(line) for line in cli("rejections", "--json", "--db", path).lines]
    assert [r["command_type"] for r in as_json] == ["ShipOrder", "ConfirmOrder"]
    assert as_json[0]["content"]["fields"]["tracking_number"] == "T-1"
    assert cli("rejections", "--user", "nobody-here", "--db", path).lines == []
    assert len(cli("rejections", "--user", os_user(), "--db", path).lines) == 2
    assert cli("rejections", "--until", "2000-01-01", "--db", path).lines == []
    assert len(cli("rejections", "--since", "2000-01-01T00:00", "--db", path).lines) == 2
    bad = cli("rejections", "--since", "yesterday", "--db", path, expect=2)
    one_error_line(bad, "--since wants a date")
