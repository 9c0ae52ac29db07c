"""The chain proof of an audit bundle (issue 11), checked without any database: every hash and
link recomputed, gaps, reordering and alterations named by position; independent anchors
compared where the proof reaches them. The rows come from a real history (the in-memory
store, through the command bus) written out as the file stores them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from desktop_app.application import commands as c
from desktop_app.application.audit_bundle import (
    BundleHeader,
    BundleWriter,
    ProofRowT,
    note_entries,
)
from desktop_app.application.audit_bundle_check import (
    FAILED,
    OK,
    UNCHECKED,
    BundleReport,
    HeadClaim,
    check_bundle,
)
from desktop_app.bootstrap import bootstrap_in_memory
from desktop_app.store.evidence import StoreBundleCrypto
from desktop_app.store.hashing import row_hash, to_json_text, utc_text
from tests.unit.application.helpers import World

Rows = list[ProofRowT]
DATABASE_ID = "d" * 64


@pytest.fixture(scope="module")
def history() -> tuple[Rows, str]:
    """Every event of a small desk as stored rows, and the stream of the audited order (placed
    among others, confirmed and shipped after them)."""
    app = bootstrap_in_memory()
    try:
        world = World(app)
        world.place(1)
        audited = world.place(2, 3)
        world.place(4)
        world.send(c.ConfirmOrder(order_id=audited))
        world.place(5)
        world.send(c.ShipOrder(order_id=audited, tracking_number="JD0001"))
        world.place(6)
        rows: Rows = [
            (
                e.position,
                e.stream_id,
                e.version,
                e.event_id,
                e.type_name,
                e.schema_version,
                to_json_text(e.payload),
                to_json_text(e.metadata.to_json()),
                utc_text(e.recorded_at),
                e.prev_hash,
                e.hash,
            )
            for e in app.events.read_all(limit=10_000)
        ]
    finally:
        app.close()
    return rows, f"order-{audited}"


def _write(
    tmp_path: Path,
    rows: Rows,
    stream_id: str,
    *,
    name: str = "b.zip",
    number: str | None = None,
    annotations: list[dict[str, object]] | None = None,
) -> Path:
    """A bundle of the order in ``stream_id`` whose proof is ``rows`` (as an exporter or a
    forger with the program would write it); the head is the last row."""
    mine = [r for r in rows if r[1] == stream_id]
    header = BundleHeader(
        order_id=stream_id.removeprefix("order-"),
        order_number=number or json.loads(mine[0][6])["order_number"],
        stream_id=stream_id,
        first_position=mine[0][0],
        event_count=len(mine),
        head_position=rows[-1][0],
        head_hash=rows[-1][10],
        head_event_count=rows[-1][0],
        database_id=DATABASE_ID,
        seal_database_id="0" * 32,
        db_path="/nowhere/orders.sqlite3",
        exported_at=datetime(2026, 12, 7, tzinfo=UTC),
        exported_by="auditor",
        host="WS-1",
        app_version="test",
    )
    path = tmp_path / name
    writer = BundleWriter(path, header)
    writer.add_proof(rows)
    writer.add_snapshots([])
    if annotations is not None:
        writer.add_annotations(annotations)
    writer.add_rejections([])
    crypto = StoreBundleCrypto(tmp_path / "no-keys")
    writer.finish(b"%PDF-1.4 stand-in for the rendered report\n", crypto, None)
    return path


def _check(tmp_path: Path, path: Path, claims: tuple[HeadClaim, ...] = ()) -> BundleReport:
    return check_bundle(path, StoreBundleCrypto(tmp_path / "no-keys"), claims=claims)


def _proof(rows: Rows, stream_id: str) -> Rows:
    """The rows an export takes: from the order's first event to the head."""
    first = next(r[0] for r in rows if r[1] == stream_id)
    return [r for r in rows if r[0] >= first]


def _rechain(rows: Rows) -> Rows:
    """What a forger who recomputes hashes does: every link and hash made to fit again."""
    out: Rows = []
    prev = rows[0][9]
    for row in rows:
        fixed = (*row[:9], prev, row_hash(prev, *row[:9]))
        out.append(fixed)  # type: ignore[arg-type]
        prev = fixed[10]
    return out


def _failed(report: BundleReport) -> str:
    return "\n".join(report.failures)


def test_a_true_proof_holds(tmp_path: Path, history: tuple[Rows, str]) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    report = _check(tmp_path, _write(tmp_path, proof, stream))
    assert report.ok, report.lines
    assert (
        OK,
        f"chain proof: {len(proof):,} events recomputed, every hash and link holds "
        f"from #{proof[0][0]:,} to the head #{proof[-1][0]:,} ({proof[-1][10][:16]}…)",
    ) in (report.lines)
    assert any(s == OK and "legal in the state before it" in t for s, t in report.lines)
    assert not report.tied_by  # no key, no anchor: consistency only


@pytest.mark.parametrize("where", ["other", "order"])
def test_an_altered_event_is_named(tmp_path: Path, history: tuple[Rows, str], where: str) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    index = next(
        i
        for i, r in enumerate(proof)
        if (r[1] == stream) == (where == "order")
        and r[4] in ("OrderPlaced", "OrderLineAdded")
        and i > 0
    )
    row = proof[index]
    payload = row[6].replace('"quantity":', '"quantity":1', 1) if "quantity" in row[6] else row[6]
    if payload == row[6]:
        payload = row[6].replace("Müller", "Mueller", 1)
    assert payload != row[6]
    proof[index] = (*row[:6], payload, *row[7:])  # type: ignore[assignment]
    report = _check(tmp_path, _write(tmp_path, proof, stream))
    assert f"event #{row[0]:,} ({row[1]} v{row[2]} {row[4]}): its hash does not match" in (
        _failed(report)
    )


def test_a_missing_event_names_the_gap(tmp_path: Path, history: tuple[Rows, str]) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    gone = proof[3]
    del proof[3]
    failed = _failed(_check(tmp_path, _write(tmp_path, proof, stream)))
    assert f"event #{gone[0] + 1:,} where #{gone[0]:,} was expected" in failed
    assert f"link #{gone[0]:,} → #{gone[0] + 1:,}" in failed


def test_reordered_events_are_named(tmp_path: Path, history: tuple[Rows, str]) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    proof[2], proof[3] = proof[3], proof[2]
    failed = _failed(_check(tmp_path, _write(tmp_path, proof, stream)))
    assert f"event #{proof[2][0]:,} where #{proof[3][0]:,} was expected" in failed


def test_a_proof_that_stops_short_of_its_head(tmp_path: Path, history: tuple[Rows, str]) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    path = _write(tmp_path, proof, stream)
    # The same rows with the last one cut, but the manifest still naming the real head.
    short = _write(tmp_path, proof[:-1], stream, name="short.zip")
    assert _check(tmp_path, path).ok
    report = _check(tmp_path, short)
    assert report.ok  # consistent on its own: it names its own (earlier) head…
    claim = HeadClaim(label="the digest", position=proof[-1][0], hash=proof[-1][10])
    # …but an independent record of the later head is beyond it: not comparable, and said so.
    lines = _check(tmp_path, short, (claim,)).lines
    assert (
        UNCHECKED,
        f"1 anchor(s) or digest(s) are newer than the bundle's head #{proof[-2][0]:,} (up to "
        f"the digest, #{proof[-1][0]:,}): check the database itself with `verify`",
    ) in lines


def test_a_rechained_forgery_is_consistent_but_fails_an_independent_anchor(
    tmp_path: Path, history: tuple[Rows, str]
) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    index = next(i for i, r in enumerate(proof) if r[1] == stream and r[4] == "OrderLineAdded")
    row = proof[index]
    forged = row[6].replace('"quantity":2', '"quantity":20', 1)
    assert forged != row[6]
    proof[index] = (*row[:6], forged, *row[7:])  # type: ignore[assignment]
    forged_proof = _rechain(proof)
    path = _write(tmp_path, forged_proof, stream)
    alone = _check(tmp_path, path)
    assert alone.ok and not alone.tied_by  # nothing in the bundle alone can tell
    head = rows[-1]
    claim = HeadClaim(label="the anchor", position=head[0], hash=head[10], database_id=DATABASE_ID)
    report = _check(tmp_path, path, (claim,))
    assert f"the anchor: #{head[0]:,} has hash {forged_proof[-1][10][:12]}…" in _failed(report)
    # The true bundle matches the same anchor and is tied to the database by it.
    true = _check(tmp_path, _write(tmp_path, _proof(rows, stream), stream, name="t.zip"), (claim,))
    assert true.ok and true.tied_by == [f"the anchor at #{head[0]:,}"]


def test_claims_outside_the_proof_or_of_another_database(
    tmp_path: Path, history: tuple[Rows, str]
) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    path = _write(tmp_path, proof, stream)
    start = proof[0][0]
    claims = (
        HeadClaim(label="before", position=start - 2, hash="a" * 64),
        HeadClaim(label="at the start", position=start - 1, hash=proof[0][9]),
        HeadClaim(label="inside", position=proof[4][0], hash=proof[4][10]),
        HeadClaim(label="elsewhere", position=proof[4][0], hash="b" * 64, database_id="c" * 64),
    )
    lines = _check(tmp_path, path, claims).lines
    assert (
        UNCHECKED,
        f"1 anchor(s) or digest(s) precede the proof (from #{start:,}): not comparable",
    ) in lines
    assert (
        OK,
        f"at the start: #{start - 1:,} has the anchored hash; it covers the order's "
        f"events up to #{start - 1:,} only (the last is #{_last(proof, stream):,})",
    ) in lines
    assert any(s == OK and t.startswith(f"inside: #{proof[4][0]:,} has") for s, t in lines)
    assert ("Note", "elsewhere: another database's; not compared") in lines
    assert all(s != FAILED for s, _ in lines)


def _last(rows: Rows, stream: str) -> int:
    return [r for r in rows if r[1] == stream][-1][0]


def test_a_relabelled_order_is_named(tmp_path: Path, history: tuple[Rows, str]) -> None:
    rows, stream = history
    proof = _proof(rows, stream)
    placed = json.loads(next(r for r in proof if r[1] == stream)[6])["order_number"]
    report = _check(tmp_path, _write(tmp_path, proof, stream, number="SO-999999"))
    assert report.failures == [
        f"the manifest calls the order SO-999999, but it was placed as {placed}"
    ]


def test_a_proof_from_the_first_event_checks_the_database_id(
    tmp_path: Path, history: tuple[Rows, str]
) -> None:
    """A proof that starts at event #1 shows the hash that names the database (anchors use
    it); here the manifest's id is another one."""
    rows, stream = history
    report = _check(tmp_path, _write(tmp_path, rows, stream))
    assert "the manifest's database id is not the hash of event #1 in the proof" in (
        report.failures
    )


def test_an_anchor_of_a_copy_that_differs_is_not_binding(
    tmp_path: Path, history: tuple[Rows, str]
) -> None:
    """An anchor of the same database taken at another path (a copy that went its own way)
    is a note when it differs; the same anchor at the exported file's path is a failure."""
    rows, stream = history
    proof = _proof(rows, stream)
    path = _write(tmp_path, proof, stream)
    at = proof[-1][0]
    copy = HeadClaim(label="copy", position=at, hash="e" * 64, db_path="/elsewhere/copy.sqlite3")
    here = HeadClaim(label="here", position=at, hash="e" * 64, db_path="/nowhere/orders.sqlite3")
    report = _check(tmp_path, path, (copy, here))
    assert report.failures == [
        f"here: #{at:,} has hash {proof[-1][10][:12]}… where eeeeeeeeeeee… was anchored: the "
        "proof was rewritten"
    ]
    assert any(
        s == "Note" and t.startswith(f"copy: #{at:,} differs; it was taken of /elsewhere")
        for s, t in report.lines
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_edit_of_any_field_of_any_row_is_named(
    tmp_path: Path, history: tuple[Rows, str], data: st.DataObject
) -> None:
    """Whatever field of whatever proof row is changed (digests recomputed, hashes not), the
    check fails and names that event or its link."""
    rows, stream = history
    proof = _proof(rows, stream)
    index = data.draw(st.integers(0, len(proof) - 1), label="row")
    field = data.draw(st.integers(1, 10), label="field")  # the position has its own test
    row = list(proof[index])
    old = row[field]
    if isinstance(old, int):
        row[field] = old + data.draw(st.integers(1, 3), label="delta")
    else:
        at = data.draw(st.integers(0, len(old) - 1), label="at")
        char = data.draw(st.sampled_from("0123456789abcdefXYZ é"), label="char")
        row[field] = old[:at] + char + old[at + 1 :]
        assume(row[field] != old)
    proof[index] = tuple(row)  # type: ignore[assignment]
    report = _check(tmp_path, _write(tmp_path, proof, stream, number="SO-000002"))
    if report.ok:
        # Only the spelling of a time can change without its hash: the hash covers the
        # instant ("…07T15…" and "…07 15…" are one), and the check says so for the event.
        assert field == 8, report.lines
        assert any(
            s == "Note" and f"(first #{proof[index][0]:,}) have their time spelled" in t
            for s, t in report.lines
        )
        return
    assert any(f"#{proof[index][0]:,}" in text for text in report.failures), report.failures


# --- auditors' notes ------------------------------------------------------------------------


def _stored(app: object) -> Rows:
    return [
        (
            e.position,
            e.stream_id,
            e.version,
            e.event_id,
            e.type_name,
            e.schema_version,
            to_json_text(e.payload),
            to_json_text(e.metadata.to_json()),
            utc_text(e.recorded_at),
            e.prev_hash,
            e.hash,
        )
        for e in app.events.read_all(limit=10_000)  # type: ignore[attr-defined]
    ]


@pytest.fixture(scope="module")
def noted() -> tuple[Rows, str, tuple[str, str]]:
    """A desk whose audited order has a note on v2 (written at v3) and, after it was
    confirmed, a correction of that note on v4 (written at v4)."""
    app = bootstrap_in_memory()
    try:
        world = World(app)
        world.place(1)
        audited = world.place(2, 3)
        first = c.AnnotateOrder(order_id=audited, text="Pot: 3?", target_version=2)
        world.send(first)
        world.place(4)
        world.send(c.ConfirmOrder(order_id=audited))
        fix = c.AnnotateOrder(
            order_id=audited, text="Pot: 3, agreed.", target_version=4, corrects=first.note_id
        )
        world.send(fix)
        world.send(c.ShipOrder(order_id=audited, tracking_number="JD0001"))
        rows = _stored(app)
    finally:
        app.close()
    return rows, f"order-{audited}", (first.note_id, fix.note_id)


def _note_edit(rows: Rows, which: int, **changes: object) -> tuple[Rows, ProofRowT]:
    """``rows`` with the ``which``-th note's payload changed and every hash recomputed (a
    forger who rechains), and the changed row."""
    notes = [i for i, r in enumerate(rows) if r[1].startswith("auditnotes-")]
    index = notes[which]
    payload = {**json.loads(rows[index][6]), **changes}
    edited = list(rows)
    edited[index] = (*rows[index][:6], to_json_text(payload), *rows[index][7:])  # type: ignore[assignment]
    forged = _rechain(edited)
    return forged, forged[index]


def test_true_notes_hold(tmp_path: Path, noted: tuple[Rows, str, tuple[str, str]]) -> None:
    rows, stream, _ = noted
    proof = _proof(rows, stream)
    report = _check(tmp_path, _write(tmp_path, proof, stream))
    assert report.ok, report.failures
    order_id = stream.removeprefix("order-")
    assert (
        OK,
        "auditors' notes: 2 note(s) (1 correction(s)) listed exactly as the events of "
        f"auditnotes-{order_id} in the chain proof, each legal when written (the notes stream "
        "replayed with the domain's rules)",
    ) in report.lines


@pytest.mark.parametrize(
    ("which", "changes", "reason"),
    [
        (0, {"order_version": 4}, "written at order version 4, but the order had only 3 event(s)"),
        (0, {"target_version": 9}, "not legal when written: The order has no event at version 9"),
        (1, {"corrects": "nope"}, "not legal when written: There is no note 'nope' on this order"),
        (1, {"order_id": "another"}, "not legal when written: The note names another order"),
    ],
    ids=["order-not-there-yet", "no-such-event", "corrects-nothing", "other-order"],
)
def test_an_illegal_note_is_named_by_the_replay(
    tmp_path: Path,
    noted: tuple[Rows, str, tuple[str, str]],
    which: int,
    changes: dict[str, object],
    reason: str,
) -> None:
    """Notes rechained into a consistent chain: only the notes' replay can tell."""
    rows, stream, _ = noted
    forged, note = _note_edit(_proof(rows, stream), which, **changes)
    report = _check(tmp_path, _write(tmp_path, forged, stream))
    assert len(report.failures) == 1, report.failures
    assert report.failures[0].startswith(
        f"note event #{note[0]:,} ({note[1]} v{note[2]}): {reason}"
    ), report.failures


def test_a_note_id_used_twice_is_named(
    tmp_path: Path, noted: tuple[Rows, str, tuple[str, str]]
) -> None:
    rows, stream, (first, _) = noted
    forged, note = _note_edit(_proof(rows, stream), 1, note_id=first, corrects="")
    failures = _check(tmp_path, _write(tmp_path, forged, stream)).failures
    assert failures == [
        f"note event #{note[0]:,} ({note[1]} v2): not legal when written: This order already "
        "has a note with that id."
    ]


def test_a_listed_note_must_be_its_event_in_the_proof(
    tmp_path: Path, noted: tuple[Rows, str, tuple[str, str]]
) -> None:
    """annotations.json written otherwise than the proof's note rows (the writer given other
    entries): an edited text, a note not in the chain, a note of another stream."""
    rows, stream, (first, fix) = noted
    proof = _proof(rows, stream)
    notes = [r for r in proof if r[1].startswith("auditnotes-")]

    def written(entries: list[dict[str, object]], name: str) -> BundleReport:
        path = _write(tmp_path, proof, stream, name=name, annotations=entries)
        return _check(tmp_path, path)

    edited = note_entries(notes)
    edited[0]["payload"] = {**edited[0]["payload"], "text": "Pot: 2?"}  # type: ignore[dict-item]
    assert written(edited, "e.zip").failures == [
        f"annotations.json: note {first} differs from its event #{notes[0][0]:,} "
        f"({notes[0][1]} v1) in the chain proof: it was edited"
    ]
    invented = note_entries(notes)
    invented[1]["hash"] = "f" * 64
    assert written(invented, "i.zip").failures == [
        f"annotations.json: note {fix} is not in the chain proof (no event of {notes[0][1]} has "
        "its hash): added or altered",
        f"annotations.json leaves out note {fix} (event #{notes[1][0]:,}, {notes[1][1]} v2) "
        "that the chain proof holds",
    ]
    unlinked = note_entries(notes)
    unlinked[0]["corrected_by"] = []
    assert written(unlinked, "u.zip").failures == [
        f"annotations.json: note {first} differs from its event #{notes[0][0]:,} "
        f"({notes[0][1]} v1) in the chain proof: it was edited"
    ]
