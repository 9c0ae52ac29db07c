"""Unique SKUs on a real SQLite file: enforced at the append against other processes, and
files written before SKUs were unique are upgraded without losing or refusing anything."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application.ports import EventMetadata, NewEvent
from desktop_app.bootstrap import bootstrap
from desktop_app.cli_maintenance import main as admin_main
from desktop_app.config import Settings
from desktop_app.domain.catalog import SKU_NAMESPACE, Product
from desktop_app.domain.errors import DomainError
from desktop_app.domain.values import Money
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from tests.integration.reliability.support import reaped

ROOT = Path(__file__).resolve().parents[3]
META = EventMetadata(
    correlation_id="c", causation_id="c", user="old", host="old", app_version="0", source="t"
)


def _old_file_with_duplicate_skus(path: Path) -> dict[str, str]:
    """A file as an Order Desk before unique SKUs left it: three products share a SKU (one
    typed in lower case), written straight through the repository with no claim; then the
    key tables are dropped and the file is stamped version 1."""
    app = bootstrap(Settings(db_path=path), source="test")
    ids = {}
    try:
        for name, sku in (("Blue Mug", "MUG-BLUE"), ("Tea", "TEA"), ("Blue Mug 2", "MUG-BLUE")):
            product = Product.add(
                product_id=name.replace(" ", "-").lower(),
                sku=sku,
                name=name,
                price=Money(Decimal("4.50"), "EUR"),
            )
            app.deps.products.save(product, expected_version=0, metadata=META, command_id=None)
            ids[name] = product.id
        # An old program validated less: a lower-case copy of the same SKU.
        stored = app.events.read_stream("product-blue-mug-2")[0]
        payload = {**stored.payload, "product_id": "blue-mug-3", "sku": " mug-blue"}
        app.events.append(
            "product-blue-mug-3",
            0,
            [
                NewEvent(
                    event_id="ev-old-3",
                    type_name=stored.type_name,
                    schema_version=stored.schema_version,
                    payload=payload,
                    metadata=META,
                )
            ],
        )
    finally:
        app.close()
    con = sqlite3.connect(path)
    with con:
        con.execute("DROP TABLE unique_keys")
        con.execute("DROP TABLE unique_key_clashes")
        con.execute("PRAGMA user_version = 1")
    con.close()
    ids["Blue Mug 3"] = "blue-mug-3"
    return ids


def test_an_old_file_with_duplicate_skus_opens_and_reports_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.sqlite3"
    ids = _old_file_with_duplicate_skus(path)
    con = sqlite3.connect(path)
    before = con.execute("SELECT position, hash FROM events ORDER BY position").fetchall()
    con.close()

    # Read-only (status never upgrades): the clashes are worked out from the log.
    db = open_database(path, read_only=True)
    found = SqliteEventStore(db).unique_key_clashes()
    assert SqliteEventStore(db).unique_key_holder(SKU_NAMESPACE, "MUG-BLUE") == ids["Blue Mug"]
    db.close()
    assert [(x.key, x.holder, x.owner) for x in found] == [
        ("MUG-BLUE", ids["Blue Mug"], ids["Blue Mug 2"]),
        ("MUG-BLUE", ids["Blue Mug"], ids["Blue Mug 3"]),
    ]

    with caplog.at_level(logging.WARNING, logger="desktop_app.store.unique_keys"):
        db = open_database(path)  # the upgrade: must not fail on the duplicates
    store = SqliteEventStore(db)
    assert db.schema_version >= 2 and not db.read_only
    con = sqlite3.connect(path)
    assert con.execute("SELECT position, hash FROM events ORDER BY position").fetchall() == before
    con.close()
    assert store.verify().ok
    assert store.unique_key_holder(SKU_NAMESPACE, "MUG-BLUE") == ids["Blue Mug"]
    assert store.unique_key_holder(SKU_NAMESPACE, "TEA") == ids["Tea"]
    clashes = store.unique_key_clashes(SKU_NAMESPACE)
    assert [(x.key, x.holder, x.owner) for x in clashes] == [
        (x.key, x.holder, x.owner) for x in found
    ]
    db.close()
    logged = [r.getMessage() for r in caplog.records]
    assert sum("MUG-BLUE is used by two products" in m for m in logged) == 2

    assert admin_main(["status", "--db", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [x["owner"] for x in data["sku_clashes"]] == [ids["Blue Mug 2"], ids["Blue Mug 3"]]
    assert admin_main(["status", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Duplicate SKUs:" in out and "SKU MUG-BLUE: product blue-mug holds it" in out

    # From now on the SKU is enforced, with the existing holder named.
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        head = app.events.head_position()
        with pytest.raises(DomainError) as info:
            app.commands.dispatch(
                c.AddProduct(sku="mug-blue", name="Third", price=Decimal("1"), currency="EUR")
            )
        assert info.value.field == "sku"
        assert "MUG-BLUE is already used by Blue Mug" in str(info.value)
        assert app.events.head_position() == head
        app.commands.dispatch(
            c.AddProduct(sku="MUG-GREEN", name="Green", price=Decimal("1"), currency="EUR")
        )
    finally:
        app.close()


def test_processes_adding_the_same_sku_at_once_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "race.sqlite3"
    bootstrap(Settings(db_path=path), source="test").close()
    barrier = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.store.sku_child",
                str(path),
                str(i),
                "race-1" if i % 2 else "RACE-1",
                str(barrier),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    with reaped(procs):
        for proc in procs:  # every child is open and waiting before the start
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert json.loads(line or "{}") == {"ready": True}, (
                proc.stderr.read() if proc.stderr else ""
            )
        barrier.touch()
        outcomes = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    winners = [o for o in outcomes if o["outcome"] == "ok"]
    losers = [o for o in outcomes if o["outcome"] != "ok"]
    assert len(winners) == 1, outcomes
    for loser in losers:
        assert loser["outcome"] == "refused" and loser["field"] == "sku", loser
        assert "RACE-1 is already used by Racer" in loser["message"]
    db = open_database(path, create=False)
    try:
        store = SqliteEventStore(db)
        assert store.unique_key_holder(SKU_NAMESPACE, "RACE-1") == winners[0]["product_id"]
        assert list(store.iter_stream_ids("product-")) == [f"product-{winners[0]['product_id']}"]
        assert store.verify().ok
    finally:
        db.close()
