"""Write one order's audit bundle from the open database: the shared code of
``desktop-app-admin audit-bundle`` and Order ▸ Export audit bundle… (issue 11).

The format is ``application/audit_bundle.py``; the reads ``store/evidence.py``. The PDF report
is drawn by the caller's ``render`` (Qt, which the store does not import: the CLI renders on
the offscreen platform, the GUI on its GUI thread). After writing, the bundle is read back and
checked as ``check-bundle`` would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
from desktop_app.application.audit_bundle_check import check_bundle
from desktop_app.application.commands import ReportRenderer
from desktop_app.application.ports import StoreError
from desktop_app.identity import app_version, host_name, os_user
from desktop_app.store.anchors import belonging, read_anchor_log, read_sidecar
from desktop_app.store.engine import Database
from desktop_app.store.evidence import (
    ProofRow,
    StoreBundleCrypto,
    iter_proof_rows,
    read_order_evidence,
    read_order_rejections,
)
from desktop_app.store.hashing import row_hash

PROG = "desktop-app-admin"


class AuditBundleError(StoreError):
    """The bundle cannot be written (no such order, a path that must not be overwritten…);
    the message says why. Nothing was written."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ExportedBundle:
    """A written bundle, and what reading it back found."""

    header: BundleHeader
    written: WrittenBundle
    check_failure: str | None
    """None when the bundle passes ``check-bundle``; else its first failure (a bundle of a
    damaged history is still written: it is the evidence)."""


NOTES = (
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


def is_bundle(path: Path) -> bool:
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


def check_target(out: Path) -> None:
    """Refuse a path the bundle must not be written to (a missing folder, a folder, or an
    existing file that is not a bundle: a mistyped name could be the database)."""
    if not out.absolute().parent.is_dir():
        raise AuditBundleError(f"the folder {out.absolute().parent} does not exist")
    if out.is_dir():
        raise AuditBundleError(f"{out} is a folder; give the bundle's file name")
    if out.exists() and not is_bundle(out):
        raise AuditBundleError(f"{out} exists and is not an audit bundle; it was not overwritten")


class ChainAtExport:
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


def facts(header: BundleHeader, written_events: int, proof: int) -> list[tuple[str, str]]:
    """The report's front-page facts."""
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


def slot_facts(
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


def anchors_in(
    db: Path, anchor_log: Path, database_id: str | None, low: int, high: int
) -> list[dict[str, Any]]:
    """Anchor records of this database (log and sidecar) at positions ``low``..``high``."""
    anchors, _warnings = read_anchor_log(anchor_log)
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


def export_order_bundle(
    database: Database,
    stream_id: str,
    out: Path,
    *,
    key_dir: Path,
    anchor_log: Path,
    render: ReportRenderer,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportedBundle:
    """Write the audit bundle of the order ``stream_id`` to ``out`` and read it back."""
    check_target(out)
    db = database.path.absolute()
    crypto = StoreBundleCrypto(key_dir)
    with database.raw_read() as con:
        evidence = read_order_evidence(con, stream_id)
        if evidence is None:
            raise AuditBundleError(f"no order with id {stream_id.removeprefix('order-')}")
        head = evidence.head
        first_row = next(iter_proof_rows(con, evidence.first_position, evidence.first_position))
        try:
            number = str(json.loads(first_row[6]).get("order_number", ""))
        except (TypeError, ValueError, AttributeError):
            number = ""
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
            exported_at=clock(),
            exported_by=os_user(),
            host=host_name(),
            app_version=app_version(),
            anchors=anchors_in(
                db, anchor_log, head.database_id, evidence.first_position - 1, head.position
            ),
        )
        writer = BundleWriter(out, header)
        try:
            # The same read transaction as the head and the snapshots: one picture.
            chain = ChainAtExport()
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
        pdf = render(
            f"Audit bundle · Order {header.order_number}",
            [
                *facts(header, len(writer.order_rows), writer.proof_events),
                ("Chain at export", chain.verdict()),
                *slot_facts(header, annotations, rejected),
            ],
            NOTES,
            entries,
            annotations,
            report_rejections(rejected or []),
        )
        written = writer.finish(pdf, crypto, crypto.key(evidence.seal_database_id))
    except BaseException:
        writer.abort()
        raise
    # Read back as an auditor would.
    report = check_bundle(out, crypto)
    return ExportedBundle(
        header=header,
        written=written,
        check_failure=None if report.ok else str(report.failures[0]),
    )


__all__ = [
    "NOTES",
    "AuditBundleError",
    "ChainAtExport",
    "ExportedBundle",
    "ReportRenderer",
    "anchors_in",
    "check_target",
    "export_order_bundle",
    "facts",
    "is_bundle",
    "slot_facts",
]
