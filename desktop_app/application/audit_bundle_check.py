"""``check-bundle``: verify an order's audit bundle without the database (issue 11).

What each check can and cannot prove, and the report says so line by line:

* the **file digest** (trailer) catches any byte edited anywhere, by accident or by someone who
  does not bother to recompute it; the **member digests** in the manifest say which member;
* the **chain proof** is recomputed event by event: each hash over its contents and previous
  hash, each link, positions without gaps, up to the head named in the manifest. That proves the
  order's events are those the log held when its head was that hash;
* the **replay** asks the domain whether each event of the order was legal in the state before
  it, and compares every snapshot with the replay at its version;
* none of that stops someone who edits an event and recomputes every later hash, every digest
  and the trailer: the result is a consistent bundle with a different head. Only something the
  editor cannot recompute exposes it: the **MAC** (needs the database's snapshot key, which
  only the account that owns the database holds), the **snapshot seals** (same key), or an
  **anchor or digest kept elsewhere** (``--anchors``) at a position inside the proof.

Over 500 lines as one module on purpose: the checks run in order over one opened file, each
using what the previous ones read (the manifest, the proof's rows of the order).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from desktop_app.application.audit_bundle import (
    ANCHORS,
    ANNOTATIONS,
    BUNDLE_FORMAT,
    CHAIN,
    EVENTS,
    FORMAT_VERSION,
    MANIFEST,
    MEMBERS,
    READABLE_VERSIONS,
    REJECTED,
    REPORT,
    SNAPSHOTS,
    TRAILER_LENGTH,
    TRAILER_PREFIX,
    UNKEYED,
    BundleCrypto,
    ProofRowT,
    iter_range,
    notes_stream,
    row_dict,
)
from desktop_app.application.audit_bundle_slots import check_annotations, check_rejections
from desktop_app.domain.errors import DomainError
from desktop_app.domain.order import Order
from desktop_app.domain.serialization import from_payload

OK, FAILED, UNCHECKED, NOTE = "OK", "FAILED", "NOT CHECKED", "Note"
_STORE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
MAX_LISTED = 20
"""Problems listed per check (all are counted)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class HeadClaim:
    """A head kept outside the bundle (an anchor or an exported digest): at ``position`` the
    log had ``hash``."""

    label: str
    position: int
    hash: str
    database_id: str | None = None
    db_path: str | None = None
    """Where the anchored file was; an anchor of another path (a copy) that differs is a
    note, not a failure: a copy may legitimately go its own way after it was made."""


@dataclass(kw_only=True, slots=True)
class BundleReport:
    """Every check's verdict, in order: (status, text)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    order_number: str | None = None
    tied_by: list[str] = field(default_factory=list)
    """What ties the bundle to the database beyond its own consistency: a MAC that holds, an
    independent anchor or digest that the proof matches. Empty: only consistency was shown."""

    @property
    def ok(self) -> bool:
        """True when nothing failed (some things may not have been checkable)."""
        return all(status != FAILED for status, _ in self.lines)

    @property
    def failures(self) -> list[str]:
        """The texts of the failed checks."""
        return [text for status, text in self.lines if status == FAILED]

    def add(self, status: str, text: str) -> None:
        """Record one verdict."""
        self.lines.append((status, text))


class _Problems:
    """Problems of one check: counted, the first ``MAX_LISTED`` kept."""

    def __init__(self) -> None:
        self.count = 0
        self.listed: list[str] = []

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(text)

    def report(self, report: BundleReport, ok_text: str, what: str) -> None:
        if not self.count:
            report.add(OK, ok_text)
            return
        for text in self.listed:
            report.add(FAILED, text)
        if self.count > len(self.listed):
            report.add(FAILED, f"… and {self.count - len(self.listed):,} more {what}")


def check_bundle(
    path: Path, crypto: BundleCrypto, *, claims: Sequence[HeadClaim] = ()
) -> BundleReport:
    """Check the bundle at ``path``; the report says what holds, what fails, what was not
    checkable (and why)."""
    report = BundleReport()
    try:
        fh = path.open("rb")
    except OSError as exc:
        report.add(FAILED, f"the bundle {path} cannot be read ({exc.strerror or exc})")
        return report
    with fh:
        _Check(fh, crypto, claims, report).run()
    return report


class _Check:
    def __init__(
        self, fh: IO[bytes], crypto: BundleCrypto, claims: Sequence[HeadClaim], report: BundleReport
    ) -> None:
        self.fh = fh
        self.crypto = crypto
        self.claims = claims
        self.report = report
        self.mac = ""
        self.manifest: dict[str, Any] = {}
        self.hashes: dict[int, str] = {}
        """Hashes at the positions anchors name (filled while the proof is read)."""
        self.order_rows: list[ProofRowT] = []
        self.note_rows: list[ProofRowT] = []
        self.version = FORMAT_VERSION
        """The format version the trailer names."""
        self.mac_verdict = "not checked"
        self.first_row: ProofRowT | None = None
        self.replayed_to = 0
        """The last version the replay reached."""

    def run(self) -> None:
        report = self.report
        size = self.fh.seek(0, io.SEEK_END)
        body = self._trailer(size)
        try:
            zf = zipfile.ZipFile(self.fh)
        except Exception as exc:  # any parser error of a damaged file is a finding
            report.add(FAILED, f"the file is not a readable zip archive ({exc})")
            return
        with zf:
            if not self._members(zf):
                return
            manifest = self.manifest
            order = manifest["order"]
            report.order_number = order["order_number"]
            head, exported = manifest["head"], manifest["exported"]
            first = manifest["proof"]["first_position"]
            report.lines.insert(
                0,
                (
                    NOTE,
                    f"bundle of order {order['order_number']} ({order['stream_id']}), "
                    f"{order['event_count']:,} events; proof #{first:,}–#{head['position']:,}, "
                    f"head hash {head['hash']}; exported {exported['at']} by "
                    f"{exported['by']} on {exported['host']}",
                ),
            )
            steps: tuple[tuple[str, Callable[[], None]], ...] = (
                ("the chain proof", lambda: self._proof(zf)),
                (EVENTS, lambda: self._events(zf)),
                ("the replay", lambda: self._replay(zf)),
                ("the MAC", lambda: self._mac(body)),
                ("the anchors", lambda: self._anchors(zf)),
                ("the auditors' notes", lambda: self._notes(zf)),
                ("the rejected commands", lambda: self._rejected(zf)),
            )
            for what, step in steps:
                try:
                    step()
                except Exception as exc:  # malformed input must not crash a check
                    report.add(FAILED, f"{what}: the check stopped on malformed content ({exc!r})")
            report.add(
                NOTE,
                f"{REPORT} is a rendering of the events: its digest was checked, its text was "
                "not compared with them",
            )

    # --- the file ---------------------------------------------------------------------------

    def _trailer(self, size: int) -> int:
        """Check the digest over the whole file; returns where the zip comment begins."""
        report = self.report
        if size < TRAILER_LENGTH + 22:
            report.add(FAILED, f"the file is too short to be an audit bundle ({size:,} bytes)")
            return max(size - TRAILER_LENGTH, 0)
        body = size - TRAILER_LENGTH
        self.fh.seek(body)
        trailer = self.fh.read(TRAILER_LENGTH)
        prefix_end = len(TRAILER_PREFIX)
        mac_end = prefix_end + len(UNKEYED)
        sha = hashlib.sha256()
        for chunk in iter_range(self.fh, size - 64):
            sha.update(chunk)
        prefixes = {
            TRAILER_PREFIX.replace(f"/{FORMAT_VERSION} ", f"/{v} ").encode(): v
            for v in READABLE_VERSIONS
        }
        version = prefixes.get(trailer[:prefix_end])
        if version is None or trailer[mac_end : mac_end + 8] != b" sha256=":
            report.add(
                FAILED,
                "the file's trailer (zip comment) is not that of an Order Desk audit bundle "
                f"{BUNDLE_FORMAT}/{FORMAT_VERSION}: it was changed or this is another file",
            )
        elif not hmac.compare_digest(sha.hexdigest().encode(), trailer[-64:]):
            report.add(
                FAILED,
                "the file was changed after it was written: the sha256 of its bytes does not "
                "match its trailer (the checks below say where, when they can)",
            )
        else:
            report.add(OK, f"the file is intact: the sha256 of its {size:,} bytes matches")
        self.version = version or FORMAT_VERSION
        self.mac = trailer[prefix_end:mac_end].decode("ascii", "replace")
        return body

    def _members(self, zf: zipfile.ZipFile) -> bool:
        """Names, manifest and every member's digest; False when nothing more can be read."""
        report = self.report
        names = [info.filename for info in zf.infolist()]
        expected = {MANIFEST, *MEMBERS}
        if sorted(names) != sorted(expected):
            extra = sorted(set(names) - expected)
            missing = sorted(expected - set(names))
            twice = sorted({n for n in names if names.count(n) > 1})
            report.add(
                FAILED,
                "the members are not those of a bundle"
                + (f"; extra: {', '.join(extra)}" if extra else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; twice: {', '.join(twice)}" if twice else ""),
            )
            if MANIFEST not in names:
                return False
        try:
            manifest = json.loads(zf.read(MANIFEST))
            _manifest_shape(manifest, self.version)
        except Exception as exc:
            report.add(FAILED, f"member {MANIFEST} cannot be read ({exc})")
            return False
        self.manifest = manifest
        problems = _Problems()
        for name in MEMBERS:
            stated = manifest["members"].get(name)
            try:
                sha, size = _digest_member(zf, name)
            except Exception as exc:
                problems.add(f"member {name} cannot be read ({exc})")
                continue
            if not isinstance(stated, dict) or stated.get("sha256") != sha:
                problems.add(f"member {name} was changed: its sha256 is not the manifest's")
            elif stated.get("size") != size:
                problems.add(f"member {name} was changed: its size is not the manifest's")
        problems.report(
            report, f"every member matches the manifest ({len(MEMBERS)} members)", "members"
        )
        return True

    # --- the chain proof ------------------------------------------------------------------

    def _proof(self, zf: zipfile.ZipFile) -> None:
        report, manifest = self.report, self.manifest
        first = manifest["proof"]["first_position"]
        head_position, head_hash = manifest["head"]["position"], manifest["head"]["hash"]
        stream_id = manifest["order"]["stream_id"]
        notes = notes_stream(manifest["order"]["order_id"])
        wanted = {c.position for c in self.claims} | {
            a.get("head_position") for a in self._bundle_anchors(zf)
        }
        problems = _Problems()
        expected_position = first
        prev: str | None = None
        checked = 0
        spelled: list[int] = []
        try:
            for number, row in enumerate(_proof_rows(zf), start=1):
                if isinstance(row, str):
                    problems.add(f"{CHAIN} line {number}: {row}")
                    expected_position += 1
                    prev = None
                    continue
                position = row[0]
                if position != expected_position:
                    problems.add(
                        f"{CHAIN} line {number}: event #{position:,} where #{expected_position:,}"
                        " was expected (events are missing, added or reordered)"
                    )
                    expected_position = position
                if number == 1:
                    self.first_row = row
                    if position - 1 in wanted:
                        self.hashes[position - 1] = row[9]
                try:
                    computed = self.crypto.row_hash(row)
                except (TypeError, ValueError, UnicodeError) as exc:
                    problems.add(f"event #{position:,} cannot be hashed ({exc})")
                    computed = ""
                if not _store_spelling(row[8]):
                    spelled.append(position)
                if computed != row[10]:
                    problems.add(
                        f"event #{position:,} ({_who(row)}): its hash does not match its "
                        "contents (the event was altered)"
                    )
                if prev is not None and row[9] != prev:
                    problems.add(
                        f"link #{position - 1:,} → #{position:,}: event #{position:,} does not "
                        f"name event #{position - 1:,}'s hash as its previous hash"
                    )
                prev = row[10]
                if position in wanted:
                    self.hashes[position] = row[10]
                if row[1] == stream_id:
                    self.order_rows.append(row)
                elif row[1] == notes:
                    self.note_rows.append(row)
                expected_position = position + 1
                checked += 1
        except Exception as exc:
            problems.add(f"{CHAIN} cannot be read to its end ({exc})")
        last = expected_position - 1
        if checked and last != head_position:
            problems.add(
                f"the proof ends at #{last:,} but the manifest's head is #{head_position:,}"
            )
        elif prev is not None and prev != head_hash:
            problems.add(
                f"the proof's last event #{last:,} is not the manifest's head (hash "
                f"{prev[:12]}… where {head_hash[:12]}… is stated)"
            )
        if not checked:
            problems.add(f"{CHAIN} holds no events")
        if spelled:
            report.add(
                NOTE,
                f"{len(spelled):,} event(s) (first #{spelled[0]:,}) have their time spelled "
                "otherwise than the program writes it; the hash covers the time's value, not its "
                "spelling, so that spelling may have been edited (the value was not)",
            )
        problems.report(
            report,
            f"chain proof: {checked:,} events recomputed, every hash and link holds from "
            f"#{first:,} to the head #{head_position:,} ({head_hash[:16]}…)",
            "chain problems",
        )

    def _events(self, zf: zipfile.ZipFile) -> None:
        """``events.json`` is exactly the order's events in the proof, versions 1..n."""
        report, order = self.report, self.manifest["order"]
        problems = _Problems()
        rows = self.order_rows
        try:
            listed = json.loads(zf.read(EVENTS))
            if not isinstance(listed, list):
                raise ValueError("not a list")
        except Exception as exc:
            problems.add(f"member {EVENTS} cannot be read ({exc})")
            listed = []
        for index, row in enumerate(rows, start=1):
            if row[2] != index:
                problems.add(
                    f"the order's events in the proof skip from v{index - 1} to v{row[2]} "
                    f"(event #{row[0]:,})"
                )
                break
        if rows and rows[0][0] != order["first_position"]:
            problems.add(
                f"the order's first event is #{rows[0][0]:,}, not #{order['first_position']:,}"
            )
        if order["stream_id"] != f"order-{order['order_id']}":
            problems.add(
                f"the manifest names order {order['order_id']} but stream {order['stream_id']}"
            )
        if self.manifest["proof"]["first_position"] != order["first_position"]:
            problems.add("the proof does not start at the order's first event")
        placed = _placed_number(rows[0]) if rows else None
        if placed != order["order_number"]:
            problems.add(
                f"the manifest calls the order {order['order_number']}, but it was placed as "
                f"{placed}"
            )
        database_id = self.manifest["database"]["database_id"]
        first = self.first_row
        if first is not None and first[0] == 1 and database_id != first[10]:
            problems.add("the manifest's database id is not the hash of event #1 in the proof")
        if len(rows) != order["event_count"]:
            problems.add(
                f"the proof holds {len(rows):,} events of {order['stream_id']}, the manifest "
                f"says {order['event_count']:,}"
            )
        if len(listed) != len(rows):
            problems.add(
                f"{EVENTS} lists {len(listed):,} events, the proof holds {len(rows):,} of the order"
            )
        for row, entry in zip(rows, listed, strict=False):
            try:
                same = entry == row_dict(row)
            except ValueError:
                same = False
            if not same:
                problems.add(
                    f"{EVENTS}: v{row[2]} (#{row[0]:,}) differs from the event in the chain proof"
                )
        problems.report(
            report,
            f"{EVENTS}: the order's {len(rows):,} events are exactly those of "
            f"{order['stream_id']} in the proof (versions 1–{len(rows)})",
            "event problems",
        )

    # --- meaning and snapshots ------------------------------------------------------------

    def _replay(self, zf: zipfile.ZipFile) -> None:
        report, order = self.report, self.manifest["order"]
        problems = _Problems()
        aggregate = Order(order["order_id"])
        states: dict[int, dict[str, Any]] = {}
        hashes = {row[2]: row[10] for row in self.order_rows}
        try:
            snapshots = json.loads(zf.read(SNAPSHOTS))
            if not isinstance(snapshots, list) or not all(isinstance(s, dict) for s in snapshots):
                raise ValueError("not a list of objects")
        except Exception as exc:
            problems.add(f"member {SNAPSHOTS} cannot be read ({exc})")
            snapshots = []
        at = {s.get("version") for s in snapshots}
        for row in self.order_rows:
            where = f"event #{row[0]:,} v{row[2]} {row[4]}"
            try:
                payload = json.loads(row[6])
                event = from_payload(row[4], row[5], payload)
            except (DomainError, KeyError, TypeError, ValueError) as exc:
                problems.add(f"{where}: unreadable ({exc}); the rest cannot be replayed")
                break
            reason = aggregate.refusal(event)
            if reason is not None:
                problems.add(f"{where}: not legal in the state before it: {reason}")
            try:
                aggregate.apply(event)
            except (DomainError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                problems.add(f"{where}: cannot be applied ({exc!r})")
                break
            if row[2] in at:
                try:
                    states[row[2]] = aggregate.to_snapshot()
                except (DomainError, KeyError, TypeError, ValueError) as exc:
                    problems.add(f"{where}: the state after it cannot be taken ({exc})")
                    break
            self.replayed_to = row[2]
        problems.report(
            report,
            f"replay: every one of the order's {len(self.order_rows):,} events is legal in the "
            "state before it",
            "illegal events",
        )
        self._snapshots(snapshots, states, hashes)

    def _snapshots(
        self,
        snapshots: list[dict[str, Any]],
        states: Mapping[int, object],
        hashes: Mapping[int, str],
    ) -> None:
        report, order = self.report, self.manifest["order"]
        problems = _Problems()
        key = self.crypto.key(self.manifest["database"]["seal_database_id"])
        sealed = 0
        for snap in snapshots:
            try:
                stream_id, version = snap["stream_id"], snap["version"]
                kind, schema, state = snap["aggregate_type"], snap["schema_version"], snap["state"]
                seal, event_hash = snap["seal"], snap["event_hash"]
                if not (isinstance(stream_id, str) and type(version) is int):
                    raise TypeError("wrong field types")
            except (KeyError, TypeError) as exc:
                problems.add(f"a snapshot in {SNAPSHOTS} cannot be read ({exc})")
                continue
            where = f"snapshot at v{version}"
            if stream_id != order["stream_id"]:
                problems.add(f"{where} is of another stream ({stream_id})")
                continue
            if snap.get("checksum") != self.crypto.snapshot_checksum(
                stream_id, version, kind, schema, state
            ):
                problems.add(f"{where}: its checksum does not match its contents (damaged)")
            if event_hash != hashes.get(version):
                problems.add(
                    f"{where}: the event hash it was taken at is not that of v{version} in the "
                    "proof"
                )
            try:
                same = json.loads(state) == states.get(version)
            except (TypeError, ValueError):
                same = False
            if version not in states and type(version) is int and version > self.replayed_to:
                report.add(
                    UNCHECKED,
                    f"{where}: not compared: the replay stopped at v{self.replayed_to}",
                )
            elif not same:
                problems.add(f"{where}: its state differs from the replay at v{version}")
            if key is not None and isinstance(event_hash, str) and isinstance(seal, str):
                verdict = self.crypto.seal_problem(
                    key, seal, stream_id, version, kind, schema, event_hash, state
                )
                if verdict is None:
                    sealed += 1
                elif verdict[1]:
                    problems.add(f"{where}: {verdict[0]}")
                else:
                    report.add(NOTE, f"{where}: seal not trusted: {verdict[0]}")
        problems.report(
            report,
            (
                f"{len(snapshots):,} snapshot(s): checksums hold, each equals the replay at its "
                "version and was taken at the proof's event"
                + (f"; {sealed:,} seal(s) hold under this database's key" if key else "")
            )
            if snapshots
            else "snapshots: none of this order was stored",
            "snapshot problems",
        )

    # --- keys and anchors -----------------------------------------------------------------

    def _mac(self, body: int) -> None:
        report, database = self.report, self.manifest["database"]
        seal_id = database["seal_database_id"]
        if self.mac == UNKEYED:
            held = isinstance(seal_id, str) and self.crypto.key(seal_id) is not None
            report.add(
                UNCHECKED,
                "MAC: the bundle carries none (the exporting account had no snapshot key for "
                "the database"
                + (
                    "; this account holds that key, so either another account exported it or "
                    "the MAC was stripped by someone who rebuilt the bundle)"
                    if held
                    else ")"
                ),
            )
            return
        key = self.crypto.key(seal_id) if isinstance(seal_id, str) else None
        if key is None:
            where = self.crypto.key_location(seal_id) if isinstance(seal_id, str) else "unknown"
            report.add(
                UNCHECKED,
                f"MAC and snapshot seals: the key of database {seal_id} is not on this machine "
                f"or account ({where}); without it a bundle rebuilt with recomputed digests "
                "cannot be told from the original",
            )
            return
        computed = self.crypto.mac(key, iter_range(self.fh, body))
        if hmac.compare_digest(computed.encode(), self.mac.encode()):
            report.add(
                OK,
                f"MAC: the bundle was written by a program holding the key of database {seal_id}",
            )
            report.tied_by.append("its MAC")
            self.mac_verdict = "holds"
        else:
            self.mac_verdict = "fails"
            report.add(
                FAILED,
                f"MAC: the bundle's MAC does not match the key of database {seal_id}: it was "
                "changed, or rebuilt, after it was written",
            )

    def _bundle_anchors(self, zf: zipfile.ZipFile) -> list[dict[str, Any]]:
        try:
            data = json.loads(zf.read(ANCHORS))
            anchors = data["anchors"]
            return [a for a in anchors if isinstance(a, dict)] if isinstance(anchors, list) else []
        except Exception:
            return []

    def _anchors(self, zf: zipfile.ZipFile) -> None:
        report, manifest = self.report, self.manifest
        database_id = manifest["database"]["database_id"]
        copies = [
            HeadClaim(
                label=f"the anchor of {a.get('taken_at')} ({a.get('reason')}) in the bundle",
                position=a["head_position"],
                hash=str(a.get("head_hash")),
                database_id=a.get("database_id"),
            )
            for a in self._bundle_anchors(zf)
            if type(a.get("head_position")) is int
        ]
        for claim in copies:
            self._claim(claim, database_id, independent=False)
        first, head = manifest["proof"]["first_position"], manifest["head"]["position"]
        before = [c for c in self.claims if c.position < first - 1]
        after = [c for c in self.claims if c.position > head]
        for claim in self.claims:
            if first - 1 <= claim.position <= head:
                self._claim(claim, database_id, independent=True)
        if before:
            report.add(
                UNCHECKED,
                f"{len(before):,} anchor(s) or digest(s) precede the proof (from #{first:,}): "
                "not comparable",
            )
        if after:
            newest = max(after, key=lambda c: c.position)
            report.add(
                UNCHECKED,
                f"{len(after):,} anchor(s) or digest(s) are newer than the bundle's head "
                f"#{head:,} (up to {newest.label}, #{newest.position:,}): check the database "
                "itself with `verify`",
            )
        if not self.claims:
            report.add(
                UNCHECKED,
                "head: no anchor or digest kept outside the bundle was given (--anchors), so "
                "nothing shows that this head is the database's real one",
            )

    def _claim(self, claim: HeadClaim, database_id: object, *, independent: bool) -> None:
        report, manifest = self.report, self.manifest
        first, head = manifest["proof"]["first_position"], manifest["head"]["position"]
        if claim.database_id is not None and claim.database_id != database_id:
            report.add(NOTE, f"{claim.label}: another database's; not compared")
            return
        if claim.position > head:
            report.add(
                UNCHECKED,
                f"{claim.label}: #{claim.position:,} is newer than the bundle's head "
                f"#{head:,}; check the database itself with `verify`",
            )
            return
        if claim.position < first - 1:
            report.add(
                UNCHECKED,
                f"{claim.label}: #{claim.position:,} precedes the proof (from #{first:,})",
            )
            return
        found = self.hashes.get(claim.position)
        if found == claim.hash:
            status = OK
            text = f"{claim.label}: #{claim.position:,} has the anchored hash"
            last = self.order_rows[-1][0] if self.order_rows else first
            if not independent:
                text += " (a copy made at export: consistent, not independent)"
            elif claim.position >= last:
                report.tied_by.append(f"the anchor at #{claim.position:,}")
            else:
                text += (
                    f"; it covers the order's events up to #{claim.position:,} only (the last "
                    f"is #{last:,})"
                )
        elif independent and claim.db_path not in (None, manifest["database"]["path"]):
            status = NOTE
            text = (
                f"{claim.label}: #{claim.position:,} differs; it was taken of {claim.db_path}, "
                "not of the exported file (a copy that went its own way, or a rewritten "
                "proof): not binding"
            )
        else:
            status = FAILED
            text = (
                f"{claim.label}: #{claim.position:,} has hash {str(found)[:12]}… where "
                f"{claim.hash[:12]}… was anchored: the proof was rewritten"
            )
        report.add(status, text)

    def _notes(self, zf: zipfile.ZipFile) -> None:
        if self.version == 1:
            self._empty_slots(zf)
            return
        order = self.manifest["order"]
        check_annotations(
            self.report.add,
            json.loads(zf.read(ANNOTATIONS)),
            order_id=order["order_id"],
            order_rows=self.order_rows,
            note_rows=self.note_rows,
        )

    def _rejected(self, zf: zipfile.ZipFile) -> None:
        if self.version == 1:
            return  # said with the notes: format 1 wrote two empty slots
        order = self.manifest["order"]
        rejected = json.loads(zf.read(REJECTED))
        stated = self.manifest.get("rejected_commands")
        if isinstance(rejected, dict) and rejected.get("recorded") is False:
            if rejected.get("rejected_commands") or (
                isinstance(stated, dict) and stated.get("count")
            ):
                self.report.add(FAILED, f"{REJECTED} says not recorded but lists rejections")
            else:
                self.report.add(NOTE, f"rejected commands: {rejected.get('note')}")
            return
        check_rejections(
            self.report.add,
            rejected,
            stated,
            stream_id=order["stream_id"],
            mac=self.mac_verdict,
        )

    def _empty_slots(self, zf: zipfile.ZipFile) -> None:
        """Format 1 wrote both as empty slots: say they were not recorded then."""
        for name, kind in ((ANNOTATIONS, "annotations"), (REJECTED, "rejected_commands")):
            try:
                data = json.loads(zf.read(name))
                version, items = data["format_version"], data[kind]
                recorded = data.get("recorded")
            except Exception as exc:
                self.report.add(FAILED, f"member {name} cannot be read ({exc})")
                continue
            if version != 1 or not isinstance(items, list):
                self.report.add(FAILED, f"member {name} has an unknown format ({version!r})")
            elif recorded is False and not items:
                self.report.add(
                    NOTE,
                    f"{kind.replace('_', ' ')}: not recorded: this is a format-1 bundle, "
                    'written before Order Desk recorded them (empty, not "none")',
                )
            else:
                self.report.add(
                    FAILED, f"member {name}: a format-1 bundle cannot list {kind.replace('_', ' ')}"
                )
        if self.note_rows:
            # Format 1 was written while notes already existed: it never listed them, but
            # its proof holds them (so a bundle made to look older cannot hide them either).
            self.report.add(
                NOTE,
                f"the chain proof holds {len(self.note_rows):,} event(s) of "
                f"{self.note_rows[0][1]} (auditors' notes on this order) that this format-1 "
                "bundle does not list; their hashes and links were checked with the chain",
            )


def _manifest_shape(manifest: object, version: int) -> None:
    """Raise ValueError unless the manifest has the fields the checks read, of the right types."""
    if not isinstance(manifest, dict):
        raise ValueError("not a JSON object")
    if manifest.get("format") != BUNDLE_FORMAT or manifest.get("format_version") != version:
        raise ValueError(
            f"not an Order Desk audit bundle manifest of format {version} (the trailer's)"
        )
    try:
        order, head, proof = manifest["order"], manifest["head"], manifest["proof"]
        database, exported, members = (
            manifest["database"],
            manifest["exported"],
            manifest["members"],
        )
        ints = [order["event_count"], order["first_position"], head["position"]]
        ints.append(proof["first_position"])
        texts = [order["order_id"], order["order_number"], order["stream_id"], head["hash"]]
        texts += [exported["at"], exported["by"], exported["host"]]
        ok = (
            all(type(v) is int for v in ints)
            and all(isinstance(v, str) for v in texts)
            and isinstance(members, dict)
            and isinstance(database, dict)
            and "seal_database_id" in database
            and "database_id" in database
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"missing field {exc}") from exc
    if not ok:
        raise ValueError("wrong field types")


def _digest_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with zf.open(name) as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


_TYPES = (int, str, int, str, str, int, str, str, str, str, str)


def _proof_rows(zf: zipfile.ZipFile) -> Iterator[ProofRowT | str]:
    """The proof's rows; a line that is not a well-formed row gives a string saying why."""
    with zf.open(CHAIN) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8", newline="\n"):
            try:
                row = json.loads(line)
            except ValueError as exc:
                yield f"not a JSON row ({exc})"
                continue
            if (
                not isinstance(row, list)
                or len(row) != len(_TYPES)
                or any(type(v) is not t for v, t in zip(row, _TYPES, strict=True))
            ):
                where = (
                    f"event #{row[0]:,}: "
                    if isinstance(row, list) and row and type(row[0]) is int
                    else ""
                )
                yield f"{where}not a row of 11 stored fields of the right types"
                continue
            yield tuple(row)


def _store_spelling(recorded_at: str) -> bool:
    """Is the time in the one form the store writes (``YYYY-MM-DDTHH:MM:SS.ffffffZ``)?"""
    return _STORE_TIME.fullmatch(recorded_at) is not None


def _placed_number(row: ProofRowT) -> str | None:
    """The order number in an OrderPlaced row, else None."""
    if row[4] != "OrderPlaced":
        return None
    try:
        number = json.loads(row[6]).get("order_number")
    except (ValueError, AttributeError):
        return None
    return number if isinstance(number, str) else None


def _who(row: ProofRowT) -> str:
    return f"{row[1]} v{row[2]} {row[4]}"


__all__ = ["FAILED", "NOTE", "OK", "UNCHECKED", "BundleReport", "HeadClaim", "check_bundle"]
