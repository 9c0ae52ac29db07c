"""The admin CLI end to end: init, demo, history, verify; digests (R13); tampering (R12);
bad files (R21) and clear one-line errors."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from pathlib import Path

from desktop_app.store.hashing import row_hash

from .support import attacker, cli, copy_db, one_error_line, placed_orders

OK_LINE = re.compile(r"^OK: ([\d,]+) events, head #(\d+) hash ([0-9a-f]{64})$")


def head_of(path: Path) -> tuple[int, str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        position, digest = con.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return int(position), str(digest)


# --- init and demo -------------------------------------------------------------------------


def test_init_creates_a_private_database_once(tmp_path: Path) -> None:
    path = tmp_path / "new" / "orders.sqlite3"
    run = cli("init", "--db", path)
    assert "Created a new Order Desk database" in run.out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = cli("init", "--db", path)
    assert "already an Order Desk database" in again.out
    assert cli("verify", "--db", path).out.startswith("OK: 0 events")


def test_init_refuses_a_file_that_is_not_ours(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(os.urandom(8192))
    before = junk.read_bytes()
    one_error_line(cli("init", "--db", junk, expect=2), str(junk), "not an Order Desk database")
    assert junk.read_bytes() == before

    foreign = tmp_path / "other.sqlite3"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    one_error_line(cli("init", "--db", foreign, expect=2), "another program")
    assert foreign.read_bytes() == before


def test_demo_loads_every_status_and_verifies(demo_db: Path) -> None:
    run = cli("verify", "--db", demo_db)
    lines = run.out.strip().splitlines()  # chain, replay, then the anchor check's lines (R28)
    chain_line, replay_line = lines[0], lines[1]
    match = OK_LINE.match(chain_line)
    assert match, run.out
    assert replay_line.startswith("OK: ") and "every event is legal" in replay_line, run.out
    count, position, digest = int(match[1].replace(",", "")), int(match[2]), match[3]
    assert count == position > 20 * 3
    assert (position, digest) == head_of(demo_db)
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    types = {row[0] for row in con.execute("SELECT DISTINCT type_name FROM events")}
    snapshots = con.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    con.close()
    assert {"OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled"} <= types
    assert {"CustomerRenamed", "ProductRenamed", "ProductPriceChanged"} <= types
    assert {"OrderLineRemoved", "OrderLineQuantityChanged"} <= types
    assert snapshots > 0  # the long order crossed the snapshot interval


def test_demo_reports_and_reruns_without_writing_twice(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite3"
    first = cli("demo", "--orders", "5", "--seed", "3", "--db", path)  # demo may create the file
    assert "5 orders" in first.out
    assert "Loading demo data" in first.err
    head = head_of(path)
    again = cli("demo", "--orders", "5", "--seed", "3", "--db", path)
    assert "0 events written" in again.out
    assert "already been recorded" in again.out
    assert head_of(path) == head


# --- history -------------------------------------------------------------------------------


def test_history_by_id_and_by_number(demo_db: Path) -> None:
    order = placed_orders(demo_db)[3]
    by_id = cli("history", order["order_id"], "--db", demo_db)
    by_number = cli("history", order["order_number"], "--db", demo_db)
    lowercase = cli("history", order["order_number"].lower(), "--db", demo_db)
    short = cli("history", f"SO-{int(order['order_number'][3:])}", "--db", demo_db)
    assert by_id.out == by_number.out == lowercase.out == short.out
    header, *events = by_id.lines
    assert header.startswith(f"Order {order['order_number']} ({order['order_id']}): ")
    assert header.endswith(f"{len(events)} events")
    assert events[0].split()[0] == "1"
    assert "OrderPlaced" in events[0]
    assert f"Placed order {order['order_number']}" in events[0]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", events[0])
    assert [int(line.split()[0]) for line in events] == list(range(1, len(events) + 1))


def test_history_json_has_full_entries(demo_db: Path) -> None:
    order = placed_orders(demo_db)[0]
    run = cli("history", order["order_number"], "--json", "--db", demo_db)
    entries = [json.loads(line) for line in run.lines]
    # Every line is an event here (no notes, no refused commands on a demo order), and says so.
    assert [e["kind"] for e in entries] == ["event"] * len(entries)
    assert [e["version"] for e in entries] == list(range(1, len(entries) + 1))
    first = entries[0]
    assert first["type_name"] == "OrderPlaced"
    assert first["payload"] == order
    assert set(first["metadata"]) >= {"user", "host", "source", "causation_id"}
    assert "server_role" not in first  # a file records no database role
    assert first["metadata"]["source"] == "cli"
    assert re.fullmatch(r"[0-9a-f]{64}", first["hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", first["prev_hash"])
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    stored = con.execute(
        "SELECT hash FROM events WHERE position = ?", (first["position"],)
    ).fetchone()[0]
    con.close()
    assert first["hash"] == stored


def test_history_of_an_unknown_order(demo_db: Path) -> None:
    one_error_line(cli("history", "SO-999999", "--db", demo_db, expect=2), "SO-999999")
    one_error_line(cli("history", "not-an-order", "--db", demo_db, expect=2), "not-an-order")
    # Ids are bounded: an overlong or odd one is named as such, not looked up (R30).
    for bad in ("x" * 5000, "a b", "order-\u202e1"):
        run = cli("history", bad, "--db", demo_db, expect=2)
        one_error_line(run, "is neither an order number")
        assert len(run.err) < 400


# --- verify, digests (R13) and tampering (R12) -----------------------------------------------


def export_digest(db: Path, target: Path) -> dict[str, object]:
    run = cli("verify", "--export-digest", target, "--db", db)
    assert run.lines[0].startswith("OK: ")
    assert f"Digest written to {target}" in run.out
    data = json.loads(target.read_text(encoding="utf-8"))
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]  # none left
    return dict(data)


def test_digest_export_and_check(db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "digests"
    folder.mkdir()
    digest_file = folder / "digest.json"
    data = export_digest(db, digest_file)
    position, head_hash = head_of(db)
    assert (data["head_position"], data["head_hash"], data["event_count"]) == (
        position,
        head_hash,
        position,
    )
    assert data["db_path"] == str(db)
    assert data["taken_at"]

    original = cli("verify", "--against", digest_file, "--db", db)
    assert "still extends the digest" in original.out
    assert "0 events added since" in original.out

    cli("demo", "--orders", "2", "--seed", "99", "--db", db)  # the log grows
    grown = cli("verify", "--against", digest_file, "--db", db)
    assert "still extends the digest" in grown.out
    assert head_of(db)[0] > position

    # Exporting again replaces the file atomically.
    export_digest(db, digest_file)
    assert json.loads(digest_file.read_text())["head_position"] == head_of(db)[0]


def test_truncated_log_is_caught_only_against_a_digest(db: Path, tmp_path: Path) -> None:
    digest_file = tmp_path / "digest.json"
    export_digest(db, digest_file)
    position, _ = head_of(db)
    con = attacker(db)
    con.execute("DELETE FROM events WHERE position > ?", (position - 5,))
    con.close()
    # The chain that is left is intact: verify alone cannot see a cut tail (the R12 limit) ...
    alone = cli("verify", "--db", db)
    assert alone.out.startswith(f"OK: {position - 5:,} events")
    # ... the digest saved earlier can.
    run = cli("verify", "--against", digest_file, "--db", db, expect=1)
    assert "TAMPERED: the log no longer extends the digest" in run.out


def test_rewritten_log_is_caught_only_against_a_digest(db: Path, tmp_path: Path) -> None:
    digest_file = tmp_path / "digest.json"
    export_digest(db, digest_file)
    con = attacker(db)
    rows = con.execute(
        "SELECT position, stream_id, version, event_id, type_name, schema_version, payload,"
        " metadata, recorded_at FROM events ORDER BY position"
    ).fetchall()
    victim = next(i for i, row in enumerate(rows) if row[4] == "OrderCancelled")
    prev = rows[victim - 1]
    prev_hash = con.execute("SELECT hash FROM events WHERE position = ?", (prev[0],)).fetchone()[0]
    for index, row in enumerate(rows[victim:]):
        payload = row[6]
        if index == 0:
            payload = json.dumps({**json.loads(payload), "reason": "Never happened."})
        new_hash = row_hash(prev_hash, *row[:6], payload, row[7], row[8])
        con.execute(
            "UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE position = ?",
            (payload, prev_hash, new_hash, row[0]),
        )
        prev_hash = new_hash
    con.close()
    # A fully re-chained log passes the chain check on its own (R12 limit) ...
    alone = cli("verify", "--chain-only", "--db", db)
    assert alone.out.startswith("OK: ")
    # ... but a sealed snapshot taken after the rewritten event was sealed over the old hash of
    # the event at its version, so the full check catches the rewrite (R26/R27).
    full = cli("verify", "--db", db, expect=1)
    assert full.out.startswith("OK: ") and "seal does not match" in full.out
    run = cli("verify", "--against", digest_file, "--db", db, expect=1)
    assert "TAMPERED: the log no longer extends the digest" in run.out


def test_flipped_payload_byte_is_found_at_its_position(db: Path) -> None:
    con = attacker(db)
    position, payload = con.execute(
        "SELECT position, payload FROM events WHERE type_name = 'OrderLineAdded'"
        " ORDER BY position LIMIT 1 OFFSET 7"
    ).fetchone()
    index = payload.index('"quantity":') + len('"quantity":')
    digit = payload[index]
    flipped = payload[:index] + ("9" if digit != "9" else "8") + payload[index + 1 :]
    con.execute("UPDATE events SET payload = ? WHERE position = ?", (flipped, position))
    con.close()
    run = cli("verify", "--db", db, expect=1)
    assert run.out.startswith(f"TAMPERED: first bad position {position}: ")
    # A digest of a tampered log is never exported.
    one_error_line(cli("verify", "--export-digest", db.with_suffix(".json"), "--db", db, expect=1))
    assert not db.with_suffix(".json").exists()


def test_deleted_middle_event_is_found(db: Path) -> None:
    con = attacker(db)
    con.execute("DELETE FROM events WHERE position = 10")
    con.close()
    run = cli("verify", "--db", db, expect=1)
    assert run.out.startswith("TAMPERED: first bad position 10: ")


# --- errors --------------------------------------------------------------------------------


def test_missing_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    for args in (("verify",), ("history", "SO-000001")):
        line = one_error_line(cli(*args, "--db", missing, expect=2), str(missing))
        assert "no database at" in line and "desktop-app-admin init" in line
    assert list(tmp_path.iterdir()) == []


def test_random_bytes_file_is_refused_untouched(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(os.urandom(4096))
    before = junk.read_bytes()
    for args in (("verify",), ("history", "SO-000001"), ("demo", "--orders", "1")):
        one_error_line(cli(*args, "--db", junk, expect=2), "not an Order Desk database")
    assert junk.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["junk.sqlite3"]


def test_empty_and_truncated_files_are_refused(demo_db: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    one_error_line(cli("verify", "--db", empty, expect=2), "empty")
    cut = tmp_path / "cut.sqlite3"
    copy_db(demo_db, cut)
    cut.write_bytes(cut.read_bytes()[:5000])
    one_error_line(cli("verify", "--db", cut, expect=2), "damaged")


def test_bad_digest_files(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    one_error_line(cli("verify", "--against", bad, "--db", db, expect=2), "not a digest file")
    bad.write_text('{"head_position": 1}')
    one_error_line(
        cli("verify", "--against", bad, "--db", db, expect=2), "not an Order Desk digest"
    )
    missing = tmp_path / "missing.json"
    one_error_line(cli("verify", "--against", missing, "--db", db, expect=2), "cannot read digest")
    nowhere = tmp_path / "no-such-folder" / "d.json"
    one_error_line(cli("verify", "--export-digest", nowhere, "--db", db, expect=2), "cannot write")


def test_usage_errors_exit_2() -> None:
    run = cli(expect=2)
    assert "desktop-app-admin: error:" in run.err
    run = cli("demo", "--orders", "many", expect=2)
    assert "invalid int value" in run.err
    assert "init" in cli("--help").out
