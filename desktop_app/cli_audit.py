"""Evidence out of the program (issue 11): ``audit-bundle`` writes one order's audit bundle,
``check-bundle`` verifies one without the database.

The bundle's format and its check are in ``application/audit_bundle*.py``; the reads in
``store/evidence.py``; the PDF in ``ui/printing/audit_report.py`` (Qt, imported only here and
only by ``audit-bundle``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop_app.application.audit_bundle import (
    NO_REJECTION_LOG,
    READABLE_VERSIONS,
    TRAILER_LENGTH,
    TRAILER_PREFIX,
    BundleHeader,
    BundleWriter,
    WrittenBundle,
    history_entries,
    notes_stream,
    rejection_entry,
    report_notes,
    report_rejections,
)
from desktop_app.application.audit_bundle_check import (
    FAILED,
    BundleReport,
    HeadClaim,
    check_bundle,
)
from desktop_app.application.ids import id_problem
from desktop_app.bootstrap import App
from desktop_app.cli_support import EXIT_FAILED, EXIT_OK, PROG, CliError, open_app
from desktop_app.config import Settings, default_key_dir
from desktop_app.identity import app_version, host_name, os_user
from desktop_app.store.anchors import (
    ANCHOR_FORMAT,
    belonging,
    read_anchor_log,
    read_sidecar,
)
from desktop_app.store.evidence import (
    ProofRow,
    StoreBundleCrypto,
    find_order_stream,
    iter_proof_rows,
    read_order_evidence,
    read_order_rejections,
)
from desktop_app.store.hashing import row_hash

_ORDER_NUMBER = re.compile(r"SO-\d+", re.IGNORECASE)
_DIGEST_FORMAT = "order-desk-digest"  # what `verify --export-digest` writes


# --- audit-bundle --------------------------------------------------------------------------


def _stream_of(con: Any, ref: str) -> str:
    """The order's stream for a number (SO-000123, so-123) or an id."""
    ref = ref.strip()
    if _ORDER_NUMBER.fullmatch(ref):
        number = f"SO-{int(ref[3:]):06d}"  # "so-42" means SO-000042
        for candidate in dict.fromkeys((ref.upper(), number)):  # as typed first, then padded
            stream = find_order_stream(con, candidate)
            if stream is not None:
                return stream
        raise CliError(f"no order with number {number}")
    order_id = ref.removeprefix("order-")
    problem = id_problem(order_id)
    if problem is not None:
        raise CliError(f"{ref[:80]!r} is neither an order number (SO-000123) nor an id: {problem}")
    return f"order-{order_id}"


def _anchors_in(app: App, db: Path, database_id: str | None, low: int, high: int) -> list[Any]:
    """Anchor records of this database (log and sidecar) at positions ``low``..``high``."""
    settings = app.settings or Settings(db_path=db)
    anchors, _warnings = read_anchor_log(settings.anchor_log)
    candidates, _superseded = belonging(anchors, db_path=db, database_id=database_id)
    found = [c.anchor for c in candidates]
    sidecar, _warning = read_sidecar(db)
    if sidecar is not None:
        found.append(sidecar)
    return [
        {
            "reason": a.reason,
            "db_path": a.db_path,
            "database_id": a.database_id,
            "head_position": a.head_position,
            "head_hash": a.head_hash,
            "event_count": a.event_count,
            "taken_at": a.taken_at.astimezone(UTC).isoformat(),
            "user": a.user,
            "host": a.host,
            "source": a.where,
        }
        for a in found
        if low <= a.head_position <= high
    ]


def _qt_app() -> Any:
    """A ``QApplication`` (offscreen without a display): the report draws with the timeline's
    delegate, a widgets class."""
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(sys.argv[:1])


class _ChainAtExport:
    """Recomputes the proof's hashes and links while it is written, for the report's front
    page (the full check, replay included, runs on the finished file)."""

    def __init__(self) -> None:
        self.count = 0
        self.problems = 0
        self.first: str | None = None

    def watch(self, rows: Iterator[ProofRow]) -> Iterator[ProofRow]:
        prev: str | None = None
        for row in rows:
            try:
                holds = row_hash(row[9], *row[:9]) == row[10]
            except (TypeError, ValueError, UnicodeError):
                holds = False
            linked = prev is None or row[9] == prev
            if not (holds and linked):
                self.problems += 1
                if self.first is None:
                    what = "its hash does not match its contents" if not holds else "broken link"
                    self.first = f"event #{row[0]:,}: {what}"
            prev = row[10]
            self.count += 1
            yield row

    def verdict(self) -> str:
        if not self.problems:
            return f"{self.count:,} events recomputed: every hash and link holds"
        return (
            f"DOES NOT HOLD: {self.problems:,} of {self.count:,} events fail (first: {self.first})"
        )


def _facts(header: BundleHeader, written_events: int, proof: int) -> list[tuple[str, str]]:
    return [
        ("Order", f"{header.order_number} (id {header.order_id})"),
        ("Events", f"{written_events:,} (versions 1–{written_events:,})"),
        (
            "Head of the log",
            f"#{header.head_position:,} · {header.head_hash} ({header.head_event_count:,} events)",
        ),
        (
            "Chain proof",
            f"#{header.first_position:,} to #{header.head_position:,}: {proof:,} events",
        ),
        ("Database", header.db_path),
        ("Database id", header.database_id or "—"),
        (
            "Exported",
            f"{header.exported_at:%Y-%m-%d %H:%M:%S} UTC by {header.exported_by} on {header.host}",
        ),
        ("Program", f"Order Desk {header.app_version}"),
    ]


def _slot_facts(
    header: BundleHeader, annotations: Sequence[Any], rejected: Sequence[Any] | None
) -> list[tuple[str, str]]:
    """The front page's counts of notes and refused commands, with what vouches for each."""
    corrections = sum(1 for note in annotations if note.corrects)
    notes = f"{len(annotations):,}" + (f" ({corrections:,} correction(s))" if corrections else "")
    return [
        (
            "Auditors' notes",
            f"{notes} · events of {notes_stream(header.order_id)}, in the chain proof",
        ),
        (
            "Refused commands",
            f"{len(rejected):,} · grey lines; not in the hash chain: vouched for only by the "
            "bundle's MAC"
            if rejected is not None
            else f"not recorded: {NO_REJECTION_LOG}",
        ),
    ]


_NOTES = (
    "This report is a rendering of the events in the bundle. The evidence is the bundle's "
    "chain proof, events and snapshots; check them with "
    f"`{PROG} check-bundle FILE` (no database needed).",
    "The chain proof holds every event from this order's first event to the head of the log, "
    "other orders' events included: the hash of each event covers the previous hash, so a link "
    "can only be recomputed from the complete next event.",
    "Auditors' notes are events of the order's own notes stream: the chain proof holds them "
    "and check-bundle replays them. Refused commands (grey lines) are kept outside the chain: "
    "only the bundle's MAC vouches for them.",
)


def cmd_audit_bundle(args: argparse.Namespace) -> int:
    """Write one order's audit bundle (events, chain proof, snapshots, report) to a file."""
    out: Path = args.out
    if not out.absolute().parent.is_dir():
        raise CliError(f"the folder {out.absolute().parent} does not exist")
    if out.is_dir():
        raise CliError(f"{out} is a folder; give the bundle's file name")
    if out.exists() and not _is_bundle(out):
        # Never replace a file that is not a bundle (a mistyped --out could name the database).
        raise CliError(f"{out} exists and is not an audit bundle; it was not overwritten")
    db = args.db.absolute()
    with open_app(args.db, read_only=True) as app:
        database = app.database
        if database is None:
            raise CliError("audit bundles are made from database files")
        settings = app.settings or Settings(db_path=db)
        crypto = StoreBundleCrypto(settings.effective_key_dir)
        with database.raw_read() as con:
            stream_id = _stream_of(con, args.order)
            evidence = read_order_evidence(con, stream_id)
            if evidence is None:
                raise CliError(f"no order with id {args.order.strip()}")
            head = evidence.head
            first_row = next(iter_proof_rows(con, evidence.first_position, evidence.first_position))
            try:
                number = str(json.loads(first_row[6]).get("order_number", ""))
            except (TypeError, ValueError, AttributeError):
                number = ""
            now = datetime.now(UTC)
            header = BundleHeader(
                order_id=stream_id.removeprefix("order-"),
                order_number=number or stream_id,
                stream_id=stream_id,
                first_position=evidence.first_position,
                event_count=evidence.event_count,
                head_position=head.position,
                head_hash=head.hash,
                head_event_count=head.event_count,
                database_id=head.database_id,
                seal_database_id=evidence.seal_database_id,
                db_path=str(db),
                exported_at=now,
                exported_by=os_user(),
                host=host_name(),
                app_version=app_version(),
                anchors=_anchors_in(
                    app, db, head.database_id, evidence.first_position - 1, head.position
                ),
            )
            writer = BundleWriter(out, header)
            try:
                # The same read transaction as the head and the snapshots: one picture.
                chain = _ChainAtExport()
                writer.add_proof(
                    chain.watch(iter_proof_rows(con, evidence.first_position, head.position))
                )
                writer.add_snapshots(evidence.snapshots)
                refused = read_order_rejections(con, stream_id)
                writer.add_rejections(
                    None if refused is None else [rejection_entry(row) for row in refused]
                )
            except BaseException:
                writer.abort()
                raise
        try:
            # Drawn from the bundle's own rows: the report shows exactly the evidence.
            entries = history_entries(writer.order_rows)
            annotations = report_notes(writer.note_rows)
            rejected = writer.rejections
            shown = report_rejections(rejected or [])
            _qt_app()
            from desktop_app.ui.printing.audit_report import render_audit_report

            pdf = render_audit_report(
                title=f"Audit bundle · Order {header.order_number}",
                facts=[
                    *_facts(header, len(writer.order_rows), writer.proof_events),
                    ("Chain at export", chain.verdict()),
                    *_slot_facts(header, annotations, rejected),
                ],
                notes=_NOTES,
                entries=entries,
                annotations=annotations,
                refused=shown,
            )
            written = writer.finish(pdf, crypto, crypto.key(evidence.seal_database_id))
        except BaseException:
            writer.abort()
            raise
    _say_written(written, header)
    # Read back as an auditor would: a bundle of a damaged history is still written (it is
    # the evidence), but the exporter is told at once what does not hold.
    report = check_bundle(out, crypto)
    if report.ok:
        print(f"Checked: {out} passes `{PROG} check-bundle`.")
    else:
        print(f"Warning: the bundle does not pass `{PROG} check-bundle`: {report.failures[0]}")
    return EXIT_OK


def _is_bundle(path: Path) -> bool:
    """Does the file end with a bundle's trailer?"""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size < TRAILER_LENGTH:
                return False
            fh.seek(size - TRAILER_LENGTH)
            prefix = fh.read(len(TRAILER_PREFIX))
            return any(
                prefix == TRAILER_PREFIX.replace(f"/{READABLE_VERSIONS[-1]} ", f"/{v} ").encode()
                for v in READABLE_VERSIONS
            )
    except OSError:
        return False


def _say_written(written: WrittenBundle, header: BundleHeader) -> None:
    print(
        f"Wrote the audit bundle of {header.order_number} to {written.path} "
        f"({written.size:,} bytes): {written.events:,} events, {written.snapshots:,} "
        f"snapshot(s), chain proof of {written.proof_events:,} events to head "
        f"#{header.head_position:,}."
    )
    if header.first_position < header.head_position and written.proof_events > written.events:
        print(
            f"Note: the proof holds {written.proof_events - written.events:,} events of other "
            "orders, customers and products (the hash format needs them to prove the links)."
        )
    if not written.keyed:
        print(
            "Note: this account has no snapshot key for the database, so the bundle carries "
            "no MAC (anyone who recomputes its digests could rebuild it unnoticed)."
        )
    print(
        f"Auditors' notes: {written.notes:,} (in the chain proof); refused commands: "
        + (
            f"{written.rejections:,} (not in the chain: vouched for by the MAC only)."
            if written.rejections is not None
            else f"not recorded ({NO_REJECTION_LOG})."
        )
    )


# --- check-bundle --------------------------------------------------------------------------


def _exported_from(bundle: Path) -> tuple[Path, str | None] | None:
    """The database path and id a bundle names (unverified: only to pick the anchors that
    bind; the check itself decides what holds), or None when unreadable."""
    try:
        with zipfile.ZipFile(bundle) as zf:
            database = json.loads(zf.read("manifest.json"))["database"]
        path, database_id = database["path"], database["database_id"]
    except Exception:  # a damaged bundle: the check will say so
        return None
    if not isinstance(path, str) or not (database_id is None or isinstance(database_id, str)):
        return None
    return Path(path), database_id


def _claims(paths: list[Path], bundle: Path) -> list[HeadClaim]:
    """Heads kept outside the bundle: anchor logs (JSON lines), anchor sidecars, digests.
    Anchors a later restore gave up (R28) are left out, with a note."""
    claims: list[HeadClaim] = []
    exported = _exported_from(bundle)
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
        try:
            data = json.loads(text)
        except ValueError:
            data = None  # several lines: an anchor log
        if isinstance(data, dict) and data.get("format") == _DIGEST_FORMAT:
            position, digest = data.get("head_position"), data.get("head_hash")
            if type(position) is not int or not isinstance(digest, str):
                raise CliError(f"{path} is not a readable digest file")
            claims.append(HeadClaim(label=f"the digest {path}", position=position, hash=digest))
            continue
        if isinstance(data, dict) and data.get("format") == ANCHOR_FORMAT:
            sidecar = read_sidecar(path.with_name(path.name.removesuffix(".anchor.json")))[0]
            if sidecar is None:
                raise CliError(f"{path} is not a readable anchor file")
            anchors = [sidecar]
        else:
            anchors, warnings = read_anchor_log(path)
            if not anchors:
                raise CliError(
                    f"{path} is neither an anchor log, an anchor file nor a digest"
                    + (f" ({warnings[0]})" if warnings else "")
                )
            if exported is not None:
                candidates, superseded = belonging(
                    anchors, db_path=exported[0], database_id=exported[1]
                )
                anchors = [c.anchor for c in candidates]
                if superseded:
                    print(
                        f"Note: {len(superseded):,} anchor(s) in {path} were given up by a "
                        "restore or a new database at that path: not compared"
                    )
        claims.extend(
            HeadClaim(
                label=a.describe(),
                position=a.head_position,
                hash=a.head_hash,
                database_id=a.database_id,
                db_path=a.db_path,
            )
            for a in anchors
            if a.head_position > 0
        )
    return claims


def print_report(report: BundleReport) -> None:
    """One line per check: OK, FAILED, NOT CHECKED or Note, then the verdict."""
    for status, text in report.lines:
        print(f"{status}: {text}")
    failures = len(report.failures)
    if failures:
        print(f"TAMPERED: {failures:,} check(s) failed: this is not the bundle as it was written")
    elif report.tied_by:
        print(
            "INTACT: every check that could be made holds, and the bundle is tied to its "
            f"database by {' and '.join(report.tied_by)}"
        )
    else:
        print(
            "CONSISTENT: every check that could be made holds, but nothing here ties the bundle "
            "to its database (no MAC checked, no independent anchor): a bundle rebuilt with "
            "recomputed hashes would look the same"
        )


def cmd_check_bundle(args: argparse.Namespace) -> int:
    """Verify a bundle without the database; exit 1 when anything does not hold."""
    path: Path = args.bundle
    if not path.is_file():
        raise CliError(f"no bundle at {path}")
    claims = _claims(args.anchors, path)
    report = check_bundle(path, StoreBundleCrypto(args.key_dir or default_key_dir()), claims=claims)
    print_report(report)
    return EXIT_OK if report.ok else EXIT_FAILED


# --- registration --------------------------------------------------------------------------


def add_audit_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``audit-bundle`` and ``check-bundle``."""
    bundle = sub.add_parser(
        "audit-bundle",
        parents=[common],
        help="one order's events, chain proof, snapshots and a PDF report in one file",
    )
    bundle.add_argument("order", metavar="ORDER", help="order number (SO-000123) or id")
    bundle.add_argument("--out", type=Path, required=True, metavar="FILE", help="the bundle (zip)")
    bundle.set_defaults(run=cmd_audit_bundle)
    check = sub.add_parser(
        "check-bundle", help="verify an audit bundle without the database (exit 1 if tampered)"
    )
    check.add_argument("bundle", type=Path, metavar="FILE")
    check.add_argument(
        "--anchors",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="an anchor log, anchor file or digest kept elsewhere (repeatable)",
    )
    check.add_argument(
        "--key-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the folder of snapshot keys (default: this account's)",
    )
    check.set_defaults(run=cmd_check_bundle)


__all__ = ["FAILED", "add_audit_commands", "cmd_audit_bundle", "cmd_check_bundle"]
