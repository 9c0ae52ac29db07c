"""``audit-bundle`` and ``check-bundle`` end to end (issue 11, "Evidence out of the program"):
a real database file, the real CLI in a subprocess, and forgeries made the way someone with
the bundle and the program's source would make them."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import unicodedata
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from desktop_app.application import commands as c
from desktop_app.application.audit_bundle import (
    CHAIN,
    EVENTS,
    MANIFEST,
    MEMBERS,
    REPORT,
    SNAPSHOTS,
    TRAILER_LENGTH,
    BundleHeader,
    BundleWriter,
    write_trailer,
)
from desktop_app.application.audit_bundle_check import FAILED, OK, UNCHECKED, check_bundle
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings, default_key_dir
from desktop_app.domain.errors import DomainError
from desktop_app.store.evidence import StoreBundleCrypto
from desktop_app.store.hashing import row_hash
from desktop_app.store.records import snapshot_checksum
from tests.integration.jobs.support import Writer
from tests.unit.application.helpers import World

from .support import attacker, cli, copy_db, one_error_line


class Desk:
    """A real file: order A (two lines, snapshot, confirmed, shipped, snapshot) and order B
    (placed, confirmed, shipped), with other orders' events around and between them. Order A
    has auditors' notes (one on the order, one on v2 and a correction of it) and two refused
    commands (shipping before confirming, confirming after shipping)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        app = bootstrap(Settings(db_path=path, snapshot_interval=0), source="test")
        try:
            world = World(app)
            world.place(1)
            self.a = world.place(2, 3)
            world.send(c.TakeSnapshot(order_id=self.a))
            self.b = world.place(4)
            with pytest.raises(DomainError):
                world.send(c.ShipOrder(order_id=self.a, tracking_number="EARLY", carrier="DHL"))
            first = c.AnnotateOrder(
                order_id=self.a, text="Quantity 3 of the pot?", target_version=2
            )
            world.send(first)
            world.place(5)
            world.send(c.ConfirmOrder(order_id=self.a))
            world.send(c.ConfirmOrder(order_id=self.b))
            world.place(6)
            world.send(c.ShipOrder(order_id=self.a, tracking_number="JD0001", carrier="DHL"))
            world.send(c.ShipOrder(order_id=self.b, tracking_number="JD0002", carrier="DHL"))
            world.send(c.TakeSnapshot(order_id=self.a))
            with pytest.raises(DomainError):
                world.send(c.ConfirmOrder(order_id=self.a))
            world.send(c.AnnotateOrder(order_id=self.a, text="Whole order reviewed."))
            fix = c.AnnotateOrder(
                order_id=self.a,
                text="Pot quantity confirmed by phone.",
                target_version=2,
                corrects=first.note_id,
            )
            world.send(fix)
            self.notes = (first.note_id, fix.note_id)
            self.pending = world.place(7)
            self.mug = world.mug
            self.numbers = {o: str(world.state(o).state["order_number"]) for o in (self.a, self.b)}
        finally:
            app.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return Desk(tmp_path_factory.mktemp("desk") / "orders.sqlite3")


@pytest.fixture(scope="module")
def bundle_a(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "a.zip"
    cli("audit-bundle", desk.numbers[desk.a], "--out", out, "--db", desk.path)
    return out


@pytest.fixture(scope="module")
def bundle_b(desk: Desk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "b.zip"
    cli("audit-bundle", f"order-{desk.b}", "--out", out, "--db", desk.path)
    return out


def _crypto(keys: Path | None = None) -> StoreBundleCrypto:
    return StoreBundleCrypto(keys or default_key_dir())


# --- a true bundle -------------------------------------------------------------------------


def test_bundle_holds_the_order_and_checks_out(desk: Desk, tmp_path: Path) -> None:
    out = tmp_path / "SO-a.zip"
    number = desk.numbers[desk.a]
    run = cli("audit-bundle", number.lower().replace("-00", "-"), "--out", out, "--db", desk.path)
    assert run.lines[0].startswith(f"Wrote the audit bundle of {number} to {out} (")
    assert run.lines[-1] == f"Checked: {out} passes `desktop-app-admin check-bundle`."
    assert "5 events, 2 snapshot(s), chain proof of " in run.lines[0]
    assert out.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted([MANIFEST, *MEMBERS])
        events = json.loads(zf.read(EVENTS))
        snapshots = json.loads(zf.read(SNAPSHOTS))
        assert zf.read(REPORT).startswith(b"%PDF-")
        slots = [json.loads(zf.read(n)) for n in ("annotations.json", "rejected_commands.json")]
        chain = zf.read(CHAIN).decode().splitlines()
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["type_name"] for e in events][-2:] == ["OrderConfirmed", "OrderShipped"]
    assert events[0]["payload"]["order_number"] == number
    assert [s["version"] for s in snapshots] == [3, 5]
    assert all(s["seal"] and s["event_hash"] == events[s["version"] - 1]["hash"] for s in snapshots)
    notes, refused = slots[0]["annotations"], slots[1]["rejected_commands"]
    assert slots[0]["recorded"] is True and slots[0]["format_version"] == 2
    assert [n["payload"]["text"] for n in notes] == [
        "Quantity 3 of the pot?",
        "Whole order reviewed.",
        "Pot quantity confirmed by phone.",
    ]
    assert [n["payload"]["target_version"] for n in notes] == [2, 0, 2]
    assert notes[0]["corrected_by"] == [desk.notes[1]]
    assert {n["stream_id"] for n in notes} == {f"auditnotes-{desk.a}"}
    assert all(n["hash"] in "".join(chain) for n in notes)  # the notes are in the proof
    assert [r["command_type"] for r in refused] == ["ShipOrder", "ConfirmOrder"]
    assert {r["stream_id"] for r in refused} == {f"order-{desk.a}"}
    assert all(r["error_class"] and r["message"] for r in refused)
    assert "not in the hash chain" in slots[1]["note"]
    assert json.loads(chain[0])[0] == events[0]["position"]  # the proof starts at the order

    check = cli("check-bundle", out)
    assert check.code == 0
    assert "OK: MAC: the bundle was written by a program holding the key of database" in check.out
    assert "2 seal(s) hold under this database's key" in check.out
    assert "OK: replay: every one of the order's 5 events is legal" in check.out
    assert "NOT CHECKED: head: no anchor or digest kept outside the bundle" in check.out
    assert (
        "OK: auditors' notes: 3 note(s) (1 correction(s)) listed exactly as the events of "
        f"auditnotes-{desk.a} in the chain proof, each legal when written" in check.out
    )
    assert (
        "OK: rejected commands: 2 listed, each as the manifest lists it; rejected commands are "
        "not in the hash chain: only the bundle's MAC vouches for them" in check.out
    )
    assert check.lines[-1].startswith("INTACT: ") and "by its MAC" in check.lines[-1]
    # Exporting again replaces the earlier bundle.
    assert (
        cli("audit-bundle", number, "--out", out, "--db", desk.path)
        .lines[-1]
        .startswith("Checked: ")
    )


def test_a_bundle_of_a_tampered_history_is_written_and_says_so(desk: Desk, tmp_path: Path) -> None:
    db = copy_db(desk.path, tmp_path / "copy.sqlite3")
    con = attacker(db)
    position, payload = con.execute(
        "SELECT position, payload FROM events WHERE stream_id = ? AND version = 2",
        (f"order-{desk.b}",),
    ).fetchone()
    con.execute(
        "UPDATE events SET payload = ? WHERE position = ?",
        (payload.replace('"quantity":4', '"quantity":40'), position),
    )
    con.close()
    out = tmp_path / "evidence.zip"
    run = cli("audit-bundle", desk.numbers[desk.b], "--out", out, "--db", db)
    assert run.lines[-1].startswith(
        "Warning: the bundle does not pass `desktop-app-admin check-bundle`: "
        f"event #{position:,} (order-{desk.b} v2 OrderLineAdded): its hash does not match"
    )
    check = cli("check-bundle", out, expect=1)
    assert check.lines[-1].startswith("TAMPERED: ")
    text = _pdf_text(out, tmp_path)
    assert "DOES NOT HOLD: 1 of " in text and f"(first: event #{position:,}: its hash" in text


def test_an_unreadable_event_is_exported_as_evidence(desk: Desk, tmp_path: Path) -> None:
    """A stored event that is not even JSON does not stop the export: the bundle holds it as
    stored, the report says it cannot be read, the check names it."""
    db = copy_db(desk.path, tmp_path / "copy.sqlite3")
    con = attacker(db)
    (position,) = con.execute(
        "SELECT position FROM events WHERE stream_id = ? AND version = 4", (f"order-{desk.a}",)
    ).fetchone()
    con.execute("UPDATE events SET payload = '{broken' WHERE position = ?", (position,))
    con.close()
    out = tmp_path / "evidence.zip"
    run = cli("audit-bundle", desk.numbers[desk.a], "--out", out, "--db", db)
    assert run.lines[-1].startswith("Warning: the bundle does not pass")
    events = json.loads(zipfile.ZipFile(out).read(EVENTS))
    assert events[3]["payload"] == {"unreadable_stored_text": "{broken"}
    check = cli("check-bundle", out, expect=1)
    assert f"FAILED: event #{position:,} v4 OrderConfirmed: unreadable (" in check.out
    assert "NOT CHECKED: snapshot at v5: not compared: the replay stopped at v3" in check.out
    assert "(this stored event cannot be read: " in _pdf_text(out, tmp_path)


def test_a_blob_stored_in_an_event_is_exported_and_named(desk: Desk, tmp_path: Path) -> None:
    db = copy_db(desk.path, tmp_path / "copy.sqlite3")
    con = attacker(db)
    (position,) = con.execute(
        "SELECT position FROM events WHERE stream_id = ? AND version = 2", (f"order-{desk.b}",)
    ).fetchone()
    con.execute("UPDATE events SET metadata = X'00ff' WHERE position = ?", (position,))
    con.close()
    out = tmp_path / "evidence.zip"
    run = cli("audit-bundle", desk.numbers[desk.b], "--out", out, "--db", db)
    assert run.lines[-1].startswith("Warning: the bundle does not pass")
    check = cli("check-bundle", out, expect=1)
    assert (
        f"FAILED: chain.jsonl line {position - desk_first(out) + 1}: event #{position:,}: not a "
        "row of 11 stored fields of the right types" in check.out
    )


def desk_first(bundle: Path) -> int:
    return int(json.loads(zipfile.ZipFile(bundle).read(MANIFEST))["proof"]["first_position"])


def _pdf_text(bundle: Path, tmp_path: Path) -> str:
    """The text of the bundle's report (Qt compresses its streams: poppler's pdftotext reads
    them back)."""
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: the PDF's text cannot be read")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(zipfile.ZipFile(bundle).read(REPORT))
    done = subprocess.run([tool, "-layout", pdf, "-"], capture_output=True, text=True, check=True)
    # NFKC: the PDF's fonts use ligatures ("ﬁ").
    return " ".join(unicodedata.normalize("NFKC", done.stdout).split())


def test_the_report_shows_the_facts_and_the_drawn_timeline(
    desk: Desk, bundle_a: Path, tmp_path: Path
) -> None:
    text = _pdf_text(bundle_a, tmp_path)
    number = desk.numbers[desk.a]
    assert f"Audit bundle · Order {number}" in text
    assert "Chain at export" in text and "every hash and link holds" in text
    assert (
        f"Audit bundle · Order {number} — timeline, v1–v5 of 5 events · 3 note(s) · 2 refused"
        in (text)
    )
    # The front page counts them and says what vouches for each.
    assert "Auditors' notes 3 (1 correction(s)) · events of auditnotes-" in text
    assert (
        "Refused commands 2 · grey lines; not in the hash chain: vouched for only by the "
        "bundle's MAC" in text
    )
    # Notes beside their events, refused commands in time order among them.
    order = [
        "Whole order reviewed.",
        "v1 Placed",
        "v2 Line added",
        "Quantity 3 of the pot?",
        "Pot quantity confirmed by phone.",
        "v3 Line added",
        "Refused ShipOrder",
        "An order can only be shipped once it is confirmed.",
        "v4 Confirmed",
        "v5 Shipp",
        "Refused ConfirmOrder",
    ]
    at = [text.index(label, text.index(" — timeline")) for label in order]
    assert at == sorted(at), list(zip(order, at, strict=True))
    assert text.count("not in the chain") == 2
    # (The history view's delegate elides "Shipped" by a pixel at this font: "v5 Shipp…".)
    for label in ("v1 Placed", "v2 Line added", "v4 Confirmed", "v5 Shipp"):
        assert label in text
    assert "Refused commands (grey lines) are kept outside the chain: only the bundle's MAC" in text


def test_without_the_key_the_check_says_what_it_could_not_do(
    bundle_a: Path, tmp_path: Path
) -> None:
    manifest = json.loads(zipfile.ZipFile(bundle_a).read(MANIFEST))
    seal_id = manifest["database"]["seal_database_id"]
    run = cli("check-bundle", bundle_a, "--key-dir", tmp_path / "elsewhere")
    assert run.code == 0
    assert (
        f"NOT CHECKED: MAC and snapshot seals: the key of database {seal_id} is not on this "
        "machine or account" in run.out
    )
    assert run.lines[-1].startswith("CONSISTENT: ")


def test_an_independent_digest_ties_the_bundle(desk: Desk, tmp_path: Path) -> None:
    digest = tmp_path / "digest.json"
    cli("verify", "--chain-only", "--export-digest", digest, "--db", desk.path)
    out = tmp_path / "b.zip"
    cli("audit-bundle", desk.numbers[desk.b], "--out", out, "--db", desk.path)
    run = cli("check-bundle", out, "--anchors", digest, "--key-dir", tmp_path / "no-keys")
    head = json.loads(digest.read_text())["head_position"]
    assert f"OK: the digest {digest}: #{head:,} has the anchored hash" in run.out
    assert run.lines[-1].startswith("INTACT: ") and f"the anchor at #{head:,}" in run.lines[-1]


def test_errors_are_one_line_and_write_nothing(desk: Desk, tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    one_error_line(
        cli("audit-bundle", "SO-999999", "--out", out, "--db", desk.path, expect=2),
        "no order with number SO-999999",
    )
    one_error_line(
        cli("audit-bundle", "no such thing!", "--out", out, "--db", desk.path, expect=2),
        "is neither an order number",
    )
    one_error_line(
        cli(
            "audit-bundle",
            "SO-1",
            "--out",
            tmp_path / "nope" / "x.zip",
            "--db",
            desk.path,
            expect=2,
        ),
        "does not exist",
    )
    assert list(tmp_path.iterdir()) == []  # no bundle, no temporary file left behind
    precious = tmp_path / "precious.txt"
    precious.write_text("not a bundle")
    one_error_line(
        cli("audit-bundle", "SO-1", "--out", precious, "--db", desk.path, expect=2),
        "exists and is not an audit bundle; it was not overwritten",
    )
    one_error_line(
        cli("audit-bundle", "SO-1", "--out", desk.path, "--db", desk.path, expect=2),
        "exists and is not an audit bundle",
    )
    assert precious.read_text() == "not a bundle"
    precious.unlink()
    one_error_line(cli("check-bundle", tmp_path / "missing.zip", expect=2), "no bundle at")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(secrets.token_bytes(4000))
    run = cli("check-bundle", junk, expect=1)
    assert "FAILED: the file's trailer" in run.out and run.lines[-1].startswith("TAMPERED: ")


def test_anchors_kept_outside_are_copied_in_and_checked(desk: Desk, tmp_path: Path) -> None:
    """An anchor written by a backup lies inside the proof once more events follow: the bundle
    carries a copy (consistency only), and the anchor log or the backup's sidecar given with
    --anchors ties the bundle to the database."""
    db = copy_db(desk.path, tmp_path / "orders.sqlite3")
    cli("backup", "--db", db, "--to", tmp_path / "backups")
    (sidecar,) = (tmp_path / "backups").glob("*.anchor.json")
    anchored = json.loads(sidecar.read_text())["head_position"]
    app = bootstrap(Settings(db_path=db, snapshot_interval=0), source="test")
    try:
        app.commands.dispatch(c.ConfirmOrder(order_id=desk.pending))
    finally:
        app.close()
    out = tmp_path / "b.zip"
    cli("audit-bundle", desk.numbers[desk.b], "--out", out, "--db", db)
    copied = json.loads(zipfile.ZipFile(out).read("anchors.json"))["anchors"]
    assert [a["head_position"] for a in copied] == [anchored]
    run = cli("check-bundle", out, "--key-dir", tmp_path / "no-keys")
    assert (
        f"#{anchored:,} has the anchored hash (a copy made at export: consistent, not "
        "independent)" in run.out
    )
    assert run.lines[-1].startswith("CONSISTENT: ")
    log = Settings(db_path=db).anchor_log
    for independent in (sidecar, log):
        run = cli("check-bundle", out, "--anchors", independent, "--key-dir", tmp_path / "k")
        assert run.lines[-1].startswith("INTACT: "), run.out
        assert f"the anchor at #{anchored:,}" in run.lines[-1]


def test_bundles_taken_while_another_process_writes_check_out(desk: Desk, tmp_path: Path) -> None:
    """The head, the proof and the snapshots are read in one transaction: a writer appending
    meanwhile never makes a bundle inconsistent; each names a later head than the one before."""
    db = copy_db(desk.path, tmp_path / "orders.sqlite3")
    writer = Writer(db, desk.mug)
    heads: list[int] = []
    try:
        writer.wait_written(3)
        for index in range(3):
            out = tmp_path / f"{index}.zip"
            run = cli("audit-bundle", desk.numbers[desk.b], "--out", out, "--db", db)
            assert run.lines[-1] == f"Checked: {out} passes `desktop-app-admin check-bundle`."
            heads.append(json.loads(zipfile.ZipFile(out).read(MANIFEST))["head"]["position"])
            writer.wait_written(3)  # more events land before the next bundle
        last = writer.stop()
    finally:
        writer.kill()
    assert heads == sorted(set(heads)) and heads[-1] < last


# --- any byte ------------------------------------------------------------------------------


def _offsets(size: int) -> list[int]:
    """Every byte of the head and tail (local header, central directory, end record, trailer)
    and every 13th byte in between (all member data, the PDF and the compressed proof)."""
    edges = set(range(min(600, size))) | set(range(max(size - 2500, 0), size))
    return sorted(edges | set(range(0, size, 13)))


def test_a_bundle_edited_in_any_byte_fails(bundle_a: Path, tmp_path: Path) -> None:
    data = bundle_a.read_bytes()
    crypto = _crypto()
    assert check_bundle(bundle_a, crypto).ok
    target = tmp_path / "edited.zip"
    passed: list[int] = []
    offsets = _offsets(len(data))
    for offset in offsets:
        edited = bytearray(data)
        edited[offset] ^= 1 << (offset % 8)
        target.write_bytes(bytes(edited))
        report = check_bundle(target, crypto)
        if report.ok:
            passed.append(offset)
        else:
            assert report.failures and all(text for text in report.failures)
    assert passed == [], f"{len(passed)} of {len(offsets)} edited bytes passed: {passed[:20]}"
    assert len(offsets) > len(data) // 13


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d[:-1],
        lambda d: d + b"\n",
        lambda d: d[:100] + d[101:],
        lambda d: d[:100] + b"x" + d[100:],
        lambda d: d[: -TRAILER_LENGTH - 1] + d[-TRAILER_LENGTH:],
    ],
    ids=["cut-last", "appended", "byte-removed", "byte-inserted", "before-trailer"],
)
def test_a_longer_or_shorter_bundle_fails(
    bundle_a: Path, tmp_path: Path, edit: Callable[[bytes], bytes]
) -> None:
    target = tmp_path / "edited.zip"
    target.write_bytes(edit(bundle_a.read_bytes()))
    assert not check_bundle(target, _crypto()).ok


# --- forgeries by someone who recomputes ---------------------------------------------------


Row = list[Any]


def rebuild(
    bundle: Path,
    out: Path,
    *,
    rows: Callable[[list[Row]], list[Row]] = lambda r: r,
    snapshots: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda s: s,
    rechain: bool = False,
    key_dir: Path | None = None,
) -> Path:
    """Rebuild ``bundle`` with the program's own writer after editing it: every member digest
    and the trailer recomputed; with ``rechain`` every hash and link too; with ``key_dir`` a MAC
    under whatever key for the database is found there (the forger's own)."""
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read(MANIFEST))
        chain = [json.loads(line) for line in zf.read(CHAIN).decode().splitlines()]
        snaps = json.loads(zf.read(SNAPSHOTS))
        pdf = zf.read(REPORT)
    chain = rows(chain)
    if rechain:
        prev = chain[0][9]
        for row in chain:
            row[9] = prev
            row[10] = prev = row_hash(prev, *row[:9])
    order, head, database = manifest["order"], manifest["head"], manifest["database"]
    hashes = {r[2]: r[10] for r in chain if r[1] == order["stream_id"]}
    snaps = snapshots(snaps)
    for snap in snaps:
        snap["event_hash"] = hashes.get(snap["version"])
    header = BundleHeader(
        order_id=order["order_id"],
        order_number=order["order_number"],
        stream_id=order["stream_id"],
        first_position=order["first_position"],
        event_count=order["event_count"],
        head_position=chain[-1][0],
        head_hash=chain[-1][10],
        head_event_count=head["event_count"],
        database_id=database["database_id"],
        seal_database_id=database["seal_database_id"],
        db_path=database["path"],
        exported_at=datetime.fromisoformat(manifest["exported"]["at"]),
        exported_by=manifest["exported"]["by"],
        host=manifest["exported"]["host"],
        app_version=manifest["exported"]["app_version"],
    )
    writer = BundleWriter(out, header)
    writer.add_proof([tuple(r) for r in chain])  # type: ignore[misc]
    keys = (
        "stream_id",
        "version",
        "aggregate_type",
        "schema_version",
        "state",
        "checksum",
        "size_bytes",
        "taken_at",
        "seal",
        "event_hash",
    )
    writer.add_snapshots([[s[k] for k in keys] for s in snaps])
    crypto = _crypto(key_dir or out.parent / "forger-has-no-key")
    writer.finish(pdf, crypto, crypto.key(database["seal_database_id"]))
    return out


def _quantity(times: int, stream: str) -> Callable[[list[Row]], list[Row]]:
    def edit(chain: list[Row]) -> list[Row]:
        for row in chain:
            if row[1] == stream and row[4] == "OrderLineAdded":
                payload = json.loads(row[6])
                payload["quantity"] *= times
                row[6] = json.dumps(payload, sort_keys=True, separators=(",", ":"))
                return chain
        raise AssertionError("no line to edit")

    return edit


def test_an_edited_event_with_recomputed_digests_is_named(
    desk: Desk, bundle_b: Path, tmp_path: Path
) -> None:
    stream = f"order-{desk.b}"
    forged = rebuild(bundle_b, tmp_path / "f.zip", rows=_quantity(10, stream))
    report = check_bundle(forged, _crypto())
    position = next(
        e["position"]
        for e in json.loads(zipfile.ZipFile(forged).read(EVENTS))
        if e["type_name"] == "OrderLineAdded"
    )
    assert (
        FAILED,
        f"event #{position:,} ({stream} v2 OrderLineAdded): its hash does not match its "
        "contents (the event was altered)",
    ) in report.lines
    # Only that event is wrong: the next one still names its stored hash, so the link holds.
    assert len(report.failures) == 1, report.failures


def test_a_rechained_forgery_fails_the_mac_and_the_anchor(
    desk: Desk, bundle_b: Path, tmp_path: Path
) -> None:
    stream = f"order-{desk.b}"
    manifest = json.loads(zipfile.ZipFile(bundle_b).read(MANIFEST))
    seal_id = manifest["database"]["seal_database_id"]
    forger_keys = tmp_path / "forger-keys"
    forger_keys.mkdir(mode=0o700)
    (forger_keys / f"{seal_id}.key").write_text(secrets.token_hex(32) + "\n")
    (forger_keys / f"{seal_id}.key").chmod(0o600)
    forged = rebuild(
        bundle_b, tmp_path / "f.zip", rows=_quantity(10, stream), rechain=True, key_dir=forger_keys
    )
    # Consistent in itself: every hash, link, digest and the replay hold…
    alone = check_bundle(forged, _crypto(tmp_path / "auditor-has-no-key"))
    assert alone.ok and not alone.tied_by
    # …but not the MAC under the database's real key,
    report = check_bundle(forged, _crypto())
    assert report.failures == [
        f"MAC: the bundle's MAC does not match the key of database {seal_id}: it was changed, "
        "or rebuilt, after it was written"
    ]
    # and a MAC stripped instead is reported as missing although this account holds the key.
    stripped = rebuild(bundle_b, tmp_path / "s.zip", rows=_quantity(10, stream), rechain=True)
    lines = check_bundle(stripped, _crypto()).lines
    assert any(s == UNCHECKED and "the MAC was stripped" in t for s, t in lines)


def test_an_illegal_history_is_caught_by_the_replay(
    desk: Desk, bundle_b: Path, tmp_path: Path
) -> None:
    stream = f"order-{desk.b}"

    def ship_before_confirming(chain: list[Row]) -> list[Row]:
        mine = [r for r in chain if r[1] == stream]
        confirmed, shipped = mine[-2], mine[-1]
        assert (confirmed[4], shipped[4]) == ("OrderConfirmed", "OrderShipped")
        for field in (4, 5, 6):
            confirmed[field], shipped[field] = shipped[field], confirmed[field]
        return chain

    forged = rebuild(bundle_b, tmp_path / "f.zip", rows=ship_before_confirming, rechain=True)
    failures = check_bundle(forged, _crypto(tmp_path / "no-key")).failures
    assert len(failures) == 2, failures
    assert " v3 OrderShipped: not legal in the state before it: " in failures[0]
    assert " v4 OrderConfirmed: not legal in the state before it: " in failures[1]


def test_an_edited_snapshot_is_caught(desk: Desk, bundle_a: Path, tmp_path: Path) -> None:
    def pending_again(snaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        snap = snaps[-1]
        state = json.loads(snap["state"])
        assert state["status"] == "shipped"
        state["status"] = "pending"
        snap["state"] = json.dumps(state, sort_keys=True, separators=(",", ":"))
        snap["checksum"] = snapshot_checksum(
            snap["stream_id"],
            snap["version"],
            snap["aggregate_type"],
            snap["schema_version"],
            snap["state"],
        )
        return snaps

    forged = rebuild(bundle_a, tmp_path / "f.zip", snapshots=pending_again)
    without_key = check_bundle(forged, _crypto(tmp_path / "no-key")).failures
    assert without_key == ["snapshot at v5: its state differs from the replay at v5"]
    with_key = check_bundle(forged, _crypto()).failures
    assert "snapshot at v5: the seal does not match" in "\n".join(with_key)


def test_the_check_needs_no_database(desk: Desk, bundle_a: Path, tmp_path: Path) -> None:
    """The bundle checks out with the database gone (the CLI opens no file but the bundle)."""
    moved = tmp_path / "away.sqlite3"
    desk.path.rename(moved)
    try:
        run = cli("check-bundle", bundle_a)
    finally:
        moved.rename(desk.path)
    assert run.lines[-1].startswith("INTACT: ")
    assert [line for line in run.lines if line.startswith(OK)]


# --- notes and refused commands --------------------------------------------------------------


def reforge(
    bundle: Path,
    out: Path,
    edits: dict[str, Callable[[Any], Any]],
    *,
    manifest: Callable[[dict[str, Any]], None] = lambda m: None,
    key_dir: Path | None = None,
) -> Path:
    """``bundle`` with JSON members edited, as a forger with the program's source would do it:
    the members' digests in the manifest recomputed (and whatever ``manifest`` changes), the
    zip written again and the trailer recomputed, with a MAC under the key found in ``key_dir``
    (the forger's own) or none."""
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        contents = {name: zf.read(name) for name in names}
    for name, edit in edits.items():
        value = edit(json.loads(contents[name]))
        contents[name] = (
            json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        ).encode()
    stated = json.loads(contents[MANIFEST])
    for name in MEMBERS:
        data = contents[name]
        stated["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest(stated)
    contents[MANIFEST] = (json.dumps(stated, indent=1, sort_keys=True) + "\n").encode()
    crypto = _crypto(key_dir or out.parent / "forger-has-no-key")
    with out.open("w+b") as fh:
        with zipfile.ZipFile(fh, "w") as zf:
            for name in names:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, contents[name])
            zf.comment = b"-" * TRAILER_LENGTH
        write_trailer(fh, crypto, crypto.key(stated["database"]["seal_database_id"]))
    return out


def _notes(edit: Callable[[list[dict[str, Any]]], None]) -> Callable[[Any], Any]:
    def apply(data: dict[str, Any]) -> dict[str, Any]:
        edit(data["annotations"])
        return data

    return apply


def _refused(edit: Callable[[list[dict[str, Any]]], None]) -> Callable[[Any], Any]:
    def apply(data: dict[str, Any]) -> dict[str, Any]:
        edit(data["rejected_commands"])
        return data

    return apply


def _listed(bundle: Path, name: str, kind: str) -> list[dict[str, Any]]:
    return list(json.loads(zipfile.ZipFile(bundle).read(name))[kind])


def test_an_edited_note_fails_naming_it(desk: Desk, bundle_a: Path, tmp_path: Path) -> None:
    """The notes are in the chain: a note edited in annotations.json fails whatever the
    forger recomputes (every digest and the trailer here), and the check names it."""
    note = _listed(bundle_a, "annotations.json", "annotations")[2]

    def soften(notes: list[dict[str, Any]]) -> None:
        notes[2]["payload"]["text"] = "Pot quantity never checked."

    forged = reforge(bundle_a, tmp_path / "f.zip", {"annotations.json": _notes(soften)})
    run = cli("check-bundle", forged, expect=1)
    assert (
        f"FAILED: annotations.json: note {desk.notes[1]} differs from its event "
        f"#{note['position']:,} (auditnotes-{desk.a} v3) in the chain proof: it was edited"
    ) in run.lines
    assert [line for line in run.lines if line.startswith("FAILED")] == [
        line for line in run.lines if "annotations.json" in line and line.startswith("FAILED")
    ]
    assert run.lines[-1].startswith("TAMPERED: 1 check(s) failed")

    def drop(notes: list[dict[str, Any]]) -> None:
        del notes[0]

    dropped = cli(
        "check-bundle",
        reforge(bundle_a, tmp_path / "d.zip", {"annotations.json": _notes(drop)}),
        expect=1,
    )
    assert (
        f"FAILED: annotations.json leaves out note {desk.notes[0]} (event "
        f"#{_listed(bundle_a, 'annotations.json', 'annotations')[0]['position']:,}, "
        f"auditnotes-{desk.a} v1) that the chain proof holds"
    ) in dropped.lines


def test_a_dropped_or_changed_rejection_fails_naming_it(
    desk: Desk, bundle_a: Path, tmp_path: Path
) -> None:
    """Refused commands are outside the chain: the manifest's digest of each names an edit
    that did not recompute them; a full rebuild is caught by the MAC only, and the check
    says that this is all that vouches for them."""
    first, second = _listed(bundle_a, "rejected_commands.json", "rejected_commands")

    def drop(items: list[dict[str, Any]]) -> None:
        del items[0]

    def reason(items: list[dict[str, Any]]) -> None:
        items[1]["message"] = "Confirmed by the manager."

    dropped = cli(
        "check-bundle",
        reforge(bundle_a, tmp_path / "d.zip", {"rejected_commands.json": _refused(drop)}),
        expect=1,
    )
    assert (
        f"FAILED: rejected_commands.json: rejection #{first['rejection_id']} is missing: the "
        "manifest lists it (it was dropped)"
    ) in dropped.lines
    changed = cli(
        "check-bundle",
        reforge(bundle_a, tmp_path / "c.zip", {"rejected_commands.json": _refused(reason)}),
        expect=1,
    )
    assert (
        f"FAILED: rejected_commands.json: rejection #{second['rejection_id']} (refused "
        "ConfirmOrder) was changed: it does not match the digest the manifest lists for it"
    ) in changed.lines

    # A forger who also rewrites the manifest's digests, with a key of their own: only the
    # MAC under the database's key catches it, and the check says so.
    seal_id = json.loads(zipfile.ZipFile(bundle_a).read(MANIFEST))["database"]["seal_database_id"]
    forger_keys = tmp_path / "forger-keys"
    forger_keys.mkdir(mode=0o700)
    (forger_keys / f"{seal_id}.key").write_text(secrets.token_hex(32) + "\n")
    (forger_keys / f"{seal_id}.key").chmod(0o600)

    def restate(stated: dict[str, Any]) -> None:
        section = stated["rejected_commands"]
        section["digests"] = section["digests"][1:]
        section["count"] = 1

    rebuilt = reforge(
        bundle_a,
        tmp_path / "r.zip",
        {"rejected_commands.json": _refused(drop)},
        manifest=restate,
        key_dir=forger_keys,
    )
    run = cli("check-bundle", rebuilt, expect=1)
    failed = [line for line in run.lines if line.startswith("FAILED")]
    assert failed == [
        f"FAILED: MAC: the bundle's MAC does not match the key of database {seal_id}: it was "
        "changed, or rebuilt, after it was written"
    ]
    assert (
        "NOT CHECKED: rejected commands: 1 listed, each as the manifest lists it; rejected "
        "commands are not in the hash chain: only the bundle's MAC vouches for them (the "
        "manifest's digests catch an edit that does not recompute them): the MAC does not hold"
    ) in run.out
    # Without the database's key nothing can tell: the check says the MAC was not checked.
    alone = cli("check-bundle", rebuilt, "--key-dir", tmp_path / "auditor-has-no-key")
    assert "the MAC could not be checked here, so a rebuilt bundle could differ unnoticed" in (
        alone.out
    )
    assert alone.lines[-1].startswith("CONSISTENT: ")


def test_a_format_1_bundle_still_checks_and_says_nothing_was_recorded(tmp_path: Path) -> None:
    """A bundle written by the version before notes and refusals were recorded (a real one,
    kept as test data): it checks out, and the check says both were not recorded then."""
    old = Path(__file__).with_name("data") / "audit_bundle_format1.zip"
    run = cli("check-bundle", old, "--key-dir", tmp_path / "no-keys")
    assert "OK: the file is intact: the sha256 of its 38,857 bytes matches" in run.lines
    for kind in ("annotations", "rejected commands"):
        assert (
            f"Note: {kind}: not recorded: this is a format-1 bundle, written before Order Desk "
            'recorded them (empty, not "none")'
        ) in run.lines
    assert run.lines[-1].startswith("CONSISTENT: ")
    edited = bytearray(old.read_bytes())
    edited[200] ^= 1
    (tmp_path / "e.zip").write_bytes(bytes(edited))
    assert cli("check-bundle", tmp_path / "e.zip", expect=1).lines[-1].startswith("TAMPERED: ")


def test_a_file_without_a_rejection_log_says_refusals_were_not_recorded(
    desk: Desk, tmp_path: Path
) -> None:
    """A file with no ``rejections`` table (older than format 5, opened read-only, so never
    upgraded; here the table is dropped from a copy): the bundle says the refused commands
    were not recorded, never that there were none, and the check says the same."""
    db = copy_db(desk.path, tmp_path / "old.sqlite3")
    con = attacker(db)
    con.execute("DROP TABLE rejections")
    con.close()
    out = tmp_path / "a.zip"
    run = cli("audit-bundle", desk.numbers[desk.a], "--out", out, "--db", db)
    assert "refused commands: not recorded (the database file predates the rejection log" in (
        run.out
    )
    assert run.lines[-1].startswith("Checked: ")
    slot = json.loads(zipfile.ZipFile(out).read("rejected_commands.json"))
    assert slot["recorded"] is False and slot["rejected_commands"] == []
    check = cli("check-bundle", out)
    assert "Note: rejected commands: the database file predates the rejection log" in check.out
    assert "OK: auditors' notes: 3 note(s)" in check.out  # the notes are in the chain anyway

    def claim_one(data: dict[str, Any]) -> dict[str, Any]:
        data["rejected_commands"] = [{"rejection_id": 1}]
        return data

    forged = reforge(out, tmp_path / "f.zip", {"rejected_commands.json": claim_one})
    assert (
        "FAILED: rejected_commands.json says not recorded but lists rejections"
        in cli("check-bundle", forged, expect=1).lines
    )


def test_an_unreadable_notes_member_stops_only_its_own_check(
    desk: Desk, bundle_a: Path, tmp_path: Path
) -> None:
    forged = reforge(bundle_a, tmp_path / "f.zip", {"annotations.json": lambda data: [data]})
    run = cli("check-bundle", forged, expect=1)
    assert "FAILED: annotations.json is not a list of notes" in run.lines
    assert any(line.startswith("NOT CHECKED: rejected commands: 2 listed") for line in run.lines)


def test_a_bundle_turned_into_format_1_still_shows_its_notes_in_the_proof(
    desk: Desk, bundle_a: Path, tmp_path: Path
) -> None:
    """Someone makes a format-2 bundle pass for a format-1 one (the notes and refusals
    emptied, every digest and the trailer recomputed): the notes are still in the chain proof,
    and the check says that the format-1 bundle leaves them out."""

    def empty(kind: str) -> Callable[[Any], Any]:
        def apply(data: dict[str, Any]) -> dict[str, Any]:
            return {"format_version": 1, "recorded": False, "note": "n", kind: []}

        return apply

    def as_format_1(stated: dict[str, Any]) -> None:
        stated["format_version"] = 1
        del stated["annotations"], stated["rejected_commands"]

    forged = reforge(
        bundle_a,
        tmp_path / "f.zip",
        {
            "annotations.json": empty("annotations"),
            "rejected_commands.json": empty("rejected_commands"),
        },
        manifest=as_format_1,
    )
    # The trailer of format 1, recomputed as its writer did.
    data = bytearray(forged.read_bytes())
    body = len(data) - TRAILER_LENGTH
    head = ("order-desk-audit-bundle/1 mac=" + "-" * 81 + " sha256=").encode()
    data[body : body + len(head)] = head
    data[-64:] = hashlib.sha256(bytes(data[:-64])).hexdigest().encode()
    forged.write_bytes(bytes(data))
    run = cli("check-bundle", forged, "--key-dir", tmp_path / "no-keys")
    assert "Note: annotations: not recorded: this is a format-1 bundle" in run.out
    assert (
        f"Note: the chain proof holds 3 event(s) of auditnotes-{desk.a} (auditors' notes on "
        "this order) that this format-1 bundle does not list; their hashes and links were "
        "checked with the chain" in run.lines
    )
