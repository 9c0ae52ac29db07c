"""An order's audit bundle (issue 11, "Evidence out of the program"): the file format and its
writer. The check lives in :mod:`desktop_app.application.audit_bundle_check`.

**One zip file** (an auditor opens it with any tool and finds ``report.pdf`` at once; the
members stay separate, readable JSON) with these members:

``chain.jsonl``
    The chain proof: every stored event from the order's first event to the head of the log,
    one JSON array per line, exactly as stored (payload and metadata as their stored text,
    previous hash, hash). A checker recomputes every hash and every link from it. It holds
    other orders' events too: the hash format forces that (see :mod:`desktop_app.store.evidence`).
``events.json``
    The order's events, readable (decoded payload and metadata), with hashes.
``snapshots.json``
    The order's snapshot rows as stored (state text, checksum, seal) and the hash of the event
    at each snapshot's version.
``annotations.json``
    The auditors' notes on the order: the events of its notes stream (``auditnotes-<id>``,
    in the chain proof like every event), readable, each with the notes correcting it.
``rejected_commands.json``
    The order's refused commands as the rejection log stores them (not hash-chained: the
    manifest lists a digest of each, and only the MAC vouches for them). Format 1 bundles
    hold empty slots here (``"recorded": false``): not recorded then, not "none".
``anchors.json``
    The anchors of this database (heads kept outside it) found on the exporting machine that
    fall inside the proof: copies, so only consistency can be checked from them; an anchor the
    auditor obtained independently is given to ``check-bundle --anchors``.
``report.pdf``
    The rendered report (Qt's PDF writer, with the drawn timeline): a rendering, covered by its
    digest, not evidence in itself.
``manifest.json``
    Format, order, head, ids, the notes' count, a digest of each rejected command, and the
    size and sha256 of every other member.

**The trailer**: the zip comment is ``order-desk-audit-bundle/<version> mac=<MAC>
sha256=<DIGEST>``, of
fixed length. ``DIGEST`` is the sha256 of every byte of the file before it, so any byte edited
anywhere (zip headers and timestamps included) fails the check. ``MAC`` is an HMAC of the bytes
before the comment under a key derived from the database's snapshot key (or dashes when the
exporting account had no key): anyone can recompute the digest, only a holder of the key the
MAC.

Over 500 lines as one module on purpose: the format, its writer and the readable form of each
member belong together (the check reads them back through the same functions).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from desktop_app.application.business_summaries import LineBook
from desktop_app.application.ports import (
    REJECTION_FIELDS,
    EventMetadata,
    RecordedRejection,
    Rejection,
)
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.domain.annotations import AUDIT_NOTES_TYPE
from desktop_app.domain.errors import DomainError
from desktop_app.domain.serialization import from_payload

BUNDLE_FORMAT = "order-desk-audit-bundle"
FORMAT_VERSION = 2
"""2: notes and rejected commands filled in; 1: both were empty slots (still checked)."""
READABLE_VERSIONS = (1, 2)
SLOT_FORMAT_VERSION = 2
"""Format version of the notes and rejected-command members (1: empty slots)."""

MANIFEST = "manifest.json"
CHAIN = "chain.jsonl"
EVENTS = "events.json"
SNAPSHOTS = "snapshots.json"
ANNOTATIONS = "annotations.json"
REJECTED = "rejected_commands.json"
ANCHORS = "anchors.json"
REPORT = "report.pdf"
MEMBERS = (CHAIN, EVENTS, SNAPSHOTS, ANNOTATIONS, REJECTED, ANCHORS, REPORT)
"""Every member but the manifest, in the order they are written."""

MAC_WIDTH = 16 + 1 + 64
"""``<key id>:<hmac hex>``."""
UNKEYED = "-" * MAC_WIDTH
TRAILER_PREFIX = f"{BUNDLE_FORMAT}/{FORMAT_VERSION} mac="
"""What this version writes; a checker accepts any of ``READABLE_VERSIONS`` (same length)."""
TRAILER_LENGTH = len(TRAILER_PREFIX) + MAC_WIDTH + len(" sha256=") + 64

NOT_RECORDED = (
    "not recorded by the exporting version of Order Desk: the list is empty because nothing "
    "was recorded, not because there was nothing"
)
NOT_CHAINED = (
    "refused commands are not in the hash chain: the manifest's digests and the bundle's MAC "
    "are all that vouch for them"
)
NO_REJECTION_LOG = (
    "the database file predates the rejection log (format 5) and was opened read-only: no "
    "refused command was recorded in it"
)

_CHUNK = 1 << 20

ProofRowT = tuple[int, str, int, str, str, int, str, str, str, str, str]
"""(position, stream_id, version, event_id, type_name, schema_version, payload text,
metadata text, recorded_at, prev_hash, hash) as stored."""


class BundleCrypto(Protocol):
    """The store's formulas and keys (the application does not import the store)."""

    def row_hash(self, row: ProofRowT) -> str:
        """The hash a stored row should carry."""
        ...

    def snapshot_checksum(
        self, stream_id: str, version: int, aggregate_type: str, schema_version: int, state: str
    ) -> str:
        """The public checksum of a snapshot row."""
        ...

    def key(self, seal_database_id: str | None) -> Any:
        """This account's snapshot key of the database (opaque), or None."""
        ...

    def key_location(self, seal_database_id: str) -> str:
        """Where that key would be (for messages)."""
        ...

    def seal_problem(
        self,
        key: Any,
        seal: str,
        stream_id: str,
        version: int,
        aggregate_type: str,
        schema_version: int,
        event_hash: str,
        state: str,
    ) -> tuple[str, bool] | None:
        """None when the snapshot's seal holds under ``key``; else (why, tampering?)."""
        ...

    def mac(self, key: Any, chunks: Iterable[bytes]) -> str:
        """``<key id>:<hex>`` of the bytes in ``chunks`` under ``key``."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class BundleHeader:
    """What the bundle says about where it came from."""

    order_id: str
    order_number: str
    stream_id: str
    first_position: int
    event_count: int
    head_position: int
    head_hash: str
    head_event_count: int
    database_id: str | None
    """The hash of the log's first event (what anchors name a database by)."""
    seal_database_id: str | None
    """The id of the database's snapshot key."""
    db_path: str
    exported_at: datetime
    exported_by: str
    host: str
    app_version: str
    anchors: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True, slots=True)
class WrittenBundle:
    """What was written, for the CLI's message."""

    path: Path
    size: int
    events: int
    proof_events: int
    snapshots: int
    keyed: bool
    notes: int = 0
    rejections: int | None = None
    """None: the file has no rejection log."""


def _jsonable(value: object) -> object:
    """A stored value as JSON can carry it: a BLOB (only an edit outside the program stores
    one) becomes ``{"stored_blob_hex": …}``, so the bundle keeps it and the check names it."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"stored_blob_hex": bytes(value).hex()}
    return value


def _decoded(text: str) -> object:
    """Stored JSON text decoded; text that is not JSON (a damaged row) is kept as it is."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {"unreadable_stored_text": str(_jsonable(text))}


def row_dict(row: ProofRowT) -> dict[str, Any]:
    """A stored row as the readable event of ``events.json`` (payload and metadata decoded;
    the proof keeps their exact stored text)."""
    return {
        "position": row[0],
        "stream_id": row[1],
        "version": row[2],
        "event_id": row[3],
        "type_name": row[4],
        "schema_version": row[5],
        "payload": _decoded(row[6]),
        "metadata": _decoded(row[7]),
        "recorded_at": row[8],
        "prev_hash": row[9],
        "hash": row[10],
    }


def notes_stream(order_id: str) -> str:
    """The stream of an order's notes."""
    return f"{AUDIT_NOTES_TYPE}-{order_id}"


def corrections(note_rows: Sequence[ProofRowT]) -> dict[str, list[str]]:
    """note id -> the ids of the notes that correct it, oldest first."""
    found: dict[str, list[str]] = {}
    for row in note_rows:
        payload = payload_of(row)
        corrects = payload.get("corrects") if payload else None
        note_id = payload.get("note_id") if payload else None
        if isinstance(corrects, str) and corrects and isinstance(note_id, str):
            found.setdefault(corrects, []).append(note_id)
    return found


def note_entries(note_rows: Sequence[ProofRowT]) -> list[dict[str, Any]]:
    """``annotations.json``'s list: each note's stored row (decoded as in ``events.json``)
    and the notes that correct it."""
    fixes = corrections(note_rows)
    entries = []
    for row in note_rows:
        payload = payload_of(row)
        note_id = payload.get("note_id") if payload else None
        entries.append({**row_dict(row), "corrected_by": fixes.get(note_id, []) if note_id else []})
    return entries


def rejection_entry(row: Sequence[object]) -> dict[str, Any]:
    """One stored rejection row (columns in ``REJECTION_FIELDS`` order) as a JSON object."""
    return dict(zip(REJECTION_FIELDS, row, strict=True))


def item_digest(item: Mapping[str, Any]) -> str:
    """The sha256 of one listed rejection (canonical JSON), as the manifest lists it."""
    text = json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def payload_of(row: ProofRowT) -> dict[str, Any] | None:
    try:
        payload = json.loads(row[6])
    except (TypeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _stored_time(text: object) -> datetime:
    """A stored time (``…Z``) as an aware datetime; an unreadable one as the earliest time."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def report_notes(note_rows: Sequence[ProofRowT]) -> list[AuditNoteEntry]:
    """The notes stream's rows as the report draws them (as ``GetOrderNotes`` answers);
    a row that is not a readable note is left out (the check names it)."""
    fixes = corrections(note_rows)
    notes: list[AuditNoteEntry] = []
    for row in note_rows:
        payload = payload_of(row)
        metadata = _decoded(row[7])
        if payload is None:
            continue
        try:
            note_id, text = str(payload["note_id"]), str(payload["text"])
            target, at = int(payload["target_version"]), int(payload["order_version"])
        except (KeyError, TypeError, ValueError):
            continue
        notes.append(
            AuditNoteEntry(
                note_id=note_id,
                order_id=str(payload.get("order_id", "")),
                text=text,
                target_version=target,
                order_version=at,
                corrects=str(payload.get("corrects") or "") or None,
                corrected_by=tuple(fixes.get(note_id, ())),
                position=row[0],
                version=row[2],
                recorded_at=_stored_time(row[8]),
                metadata=EventMetadata.from_json(metadata if isinstance(metadata, dict) else {}),
            )
        )
    return notes


def report_rejections(entries: Sequence[Mapping[str, Any]]) -> list[RecordedRejection]:
    """``rejected_commands.json``'s entries as the rejection log's records (for the report)."""
    return [
        RecordedRejection(
            rejection_id=int(e["rejection_id"]),
            recorded_at=_stored_time(e["recorded_at"]),
            rejection=Rejection(**{name: str(e[name]) for name in REJECTION_FIELDS[2:]}),
        )
        for e in entries
    ]


def history_entries(rows: Sequence[ProofRowT]) -> list[HistoryEntry]:
    """The order's rows as the history view's entries (for the report), summaries included;
    an event that cannot be read says so in its summary instead of stopping the report."""
    entries: list[HistoryEntry] = []
    book = LineBook()  # business language: lines by product, old → new, money deltas
    for row in rows:
        payload, metadata = _decoded(row[6]), _decoded(row[7])
        try:
            if not isinstance(payload, dict):
                raise ValueError("its payload is not a JSON object")
            summary = book.tell(from_payload(row[4], row[5], payload)).text
        except (DomainError, KeyError, TypeError, ValueError) as exc:
            summary = f"(this stored event cannot be read: {exc})"
        try:
            recorded_at = datetime.fromisoformat(row[8])
            if recorded_at.tzinfo is None:
                recorded_at = recorded_at.replace(tzinfo=UTC)
        except ValueError:
            recorded_at = datetime.min.replace(tzinfo=UTC)
        entries.append(
            HistoryEntry(
                position=row[0],
                version=row[2],
                event_id=row[3],
                type_name=row[4],
                schema_version=row[5],
                recorded_at=recorded_at,
                metadata=EventMetadata.from_json(metadata if isinstance(metadata, dict) else {}),
                payload=payload if isinstance(payload, dict) else {},
                summary=summary,
                prev_hash=row[9],
                hash=row[10],
            )
        )
    return entries


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


class _Member:
    """Writes one zip member while hashing it."""

    def __init__(self, zf: zipfile.ZipFile, name: str, compress: int) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = compress
        info.external_attr = 0o600 << 16
        self._fh: IO[bytes] = zf.open(info, "w", force_zip64=True)
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._sha.update(data)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        self._fh.close()
        return {"sha256": self._sha.hexdigest(), "size": self.size}


class BundleWriter:
    """Writes a bundle into a temporary file beside ``path``; :meth:`finish` seals it and
    renames it into place (never a half-written bundle at ``path``)."""

    def __init__(self, path: Path, header: BundleHeader) -> None:
        self.path = path
        self.header = header
        self._temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # 0600 like the database: the proof holds other orders' events too (the user shares
        # the file on purpose, not by a permissive umask).
        self._file = os.fdopen(
            os.open(self._temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600), "w+b"
        )
        self._zip = zipfile.ZipFile(self._file, "w", allowZip64=True)
        self._digests: dict[str, dict[str, Any]] = {}
        self.order_rows: list[ProofRowT] = []
        self.note_rows: list[ProofRowT] = []
        self.proof_events = 0
        self._snapshots = 0
        self._annotations: list[dict[str, Any]] | None = None
        self._rejections: list[dict[str, Any]] | None = None
        self._rejections_note = NO_REJECTION_LOG

    def add_proof(self, rows: Iterable[ProofRowT]) -> None:
        """Write the chain proof (rows from the order's first event to the head) and keep
        the order's own rows for ``events.json``."""
        member = _Member(self._zip, CHAIN, zipfile.ZIP_DEFLATED)
        stream_id = self.header.stream_id
        notes = notes_stream(self.header.order_id)
        lines: list[bytes] = []
        for row in rows:
            lines.append(
                json.dumps(
                    [_jsonable(value) for value in row], ensure_ascii=False, separators=(",", ":")
                ).encode()
                + b"\n"
            )
            if len(lines) >= 1000:
                member.write(b"".join(lines))
                lines.clear()
            if row[1] == stream_id:
                self.order_rows.append(tuple(row))  # type: ignore[arg-type]
            elif row[1] == notes:
                self.note_rows.append(tuple(row))  # type: ignore[arg-type]
            self.proof_events += 1
        member.write(b"".join(lines))
        self._digests[CHAIN] = member.close()
        self._add(EVENTS, [row_dict(row) for row in self.order_rows])

    def add_snapshots(self, snapshots: Sequence[Sequence[Any]]) -> None:
        """The order's snapshot rows as stored, with the hash of the event at each version."""
        names = (
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
        self._snapshots = len(snapshots)
        self._add(
            SNAPSHOTS,
            [dict(zip(names, map(_jsonable, row), strict=True)) for row in snapshots],
        )

    def add_annotations(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """The notes as listed (default: :func:`note_entries` of the proof's note rows)."""
        self._annotations = [dict(e) for e in entries]

    @property
    def rejections(self) -> list[dict[str, Any]] | None:
        """The refused commands given (None: the file has no rejection log)."""
        return self._rejections

    def add_rejections(self, entries: Sequence[Mapping[str, Any]] | None) -> None:
        """The order's refused commands (:func:`rejection_entry` of each stored row), oldest
        first; None when the file has no rejection log."""
        self._rejections = None if entries is None else [dict(e) for e in entries]

    def finish(self, report_pdf: bytes, crypto: BundleCrypto, key: Any) -> WrittenBundle:
        """Add the slots, anchors, report and manifest; seal the file and put it in place."""
        try:
            annotations = self._annotations
            if annotations is None:
                annotations = self._annotations = note_entries(self.note_rows)
            self._add(
                ANNOTATIONS,
                {
                    "format_version": SLOT_FORMAT_VERSION,
                    "recorded": True,
                    "stream_id": notes_stream(self.header.order_id),
                    "note": "the events of the order's notes stream, in the chain proof",
                    "annotations": annotations,
                },
            )
            rejected = self._rejections
            self._add(
                REJECTED,
                {
                    "format_version": SLOT_FORMAT_VERSION,
                    "recorded": rejected is not None,
                    "stream_id": self.header.stream_id,
                    "note": NOT_CHAINED if rejected is not None else self._rejections_note,
                    "rejected_commands": rejected or [],
                },
            )
            self._add(ANCHORS, {"anchors": list(self.header.anchors)})
            self._add(REPORT, report_pdf, compress=zipfile.ZIP_STORED)
            self._add(MANIFEST, self._manifest())
            self._zip.comment = b"-" * TRAILER_LENGTH  # the real one is written below
            self._zip.close()
            keyed = write_trailer(self._file, crypto, key)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            size = self._temp.stat().st_size
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        return WrittenBundle(
            path=self.path,
            size=size,
            events=len(self.order_rows),
            proof_events=self.proof_events,
            snapshots=self._snapshots,
            keyed=keyed,
            notes=len(self._annotations or []),
            rejections=None if self._rejections is None else len(self._rejections),
        )

    def abort(self) -> None:
        """Drop the temporary file (nothing is left behind)."""
        for close in (self._zip.close, self._file.close):
            with contextlib.suppress(OSError, ValueError):
                close()
        self._temp.unlink(missing_ok=True)

    def _add(self, name: str, value: object, *, compress: int = zipfile.ZIP_DEFLATED) -> None:
        member = _Member(self._zip, name, compress)
        member.write(value if isinstance(value, bytes) else _json_bytes(value))
        if name != MANIFEST:
            self._digests[name] = member.close()
        else:
            member.close()

    def _manifest(self) -> dict[str, Any]:
        h = self.header
        return {
            "format": BUNDLE_FORMAT,
            "format_version": FORMAT_VERSION,
            "order": {
                "order_id": h.order_id,
                "order_number": h.order_number,
                "stream_id": h.stream_id,
                "event_count": len(self.order_rows),
                "first_position": h.first_position,
            },
            "head": {
                "position": h.head_position,
                "hash": h.head_hash,
                "event_count": h.head_event_count,
            },
            "proof": {
                "first_position": h.first_position,
                "last_position": h.head_position,
                "events": self.proof_events,
            },
            "database": {
                "database_id": h.database_id,
                "seal_database_id": h.seal_database_id,
                "path": h.db_path,
            },
            "exported": {
                "at": h.exported_at.astimezone(UTC).isoformat(),
                "by": h.exported_by,
                "host": h.host,
                "app_version": h.app_version,
            },
            "annotations": {
                "stream_id": notes_stream(h.order_id),
                "count": len(self._annotations or []),
            },
            "rejected_commands": {
                "recorded": self._rejections is not None,
                "count": len(self._rejections or []),
                "digests": [
                    {"rejection_id": r.get("rejection_id"), "sha256": item_digest(r)}
                    for r in self._rejections or []
                ],
            },
            "members": {name: self._digests[name] for name in MEMBERS},
        }


def write_trailer(fh: IO[bytes], crypto: BundleCrypto, key: Any) -> bool:
    """Replace the placeholder comment at the end of ``fh`` with the MAC and the digest of the
    file; True when keyed."""
    body = fh.seek(0, os.SEEK_END) - TRAILER_LENGTH
    keyed = key is not None
    mac = crypto.mac(key, iter_range(fh, body)) if keyed else UNKEYED
    if len(mac) != MAC_WIDTH:
        raise ValueError("the bundle MAC has an unexpected length")
    head = (TRAILER_PREFIX + mac + " sha256=").encode("ascii")
    fh.seek(body)
    fh.write(head)
    sha = hashlib.sha256()
    for chunk in iter_range(fh, body + len(head)):
        sha.update(chunk)
    fh.write(sha.hexdigest().encode("ascii"))  # iter_range left fh just before the digest
    return keyed


def iter_range(fh: IO[bytes], length: int) -> Iterator[bytes]:
    """The first ``length`` bytes of ``fh`` in chunks (a bundle can be large)."""
    fh.seek(0)
    left = length
    while left > 0:
        chunk = fh.read(min(_CHUNK, left))
        if not chunk:
            raise OSError("the bundle file is shorter than expected")
        left -= len(chunk)
        yield chunk


__all__ = [
    "ANCHORS",
    "ANNOTATIONS",
    "BUNDLE_FORMAT",
    "CHAIN",
    "EVENTS",
    "FORMAT_VERSION",
    "MANIFEST",
    "MEMBERS",
    "NOT_CHAINED",
    "NOT_RECORDED",
    "NO_REJECTION_LOG",
    "READABLE_VERSIONS",
    "REJECTED",
    "REJECTION_FIELDS",
    "REPORT",
    "SLOT_FORMAT_VERSION",
    "SNAPSHOTS",
    "TRAILER_LENGTH",
    "TRAILER_PREFIX",
    "UNKEYED",
    "BundleCrypto",
    "BundleHeader",
    "BundleWriter",
    "ProofRowT",
    "WrittenBundle",
    "history_entries",
    "item_digest",
    "iter_range",
    "note_entries",
    "notes_stream",
    "payload_of",
    "rejection_entry",
    "report_notes",
    "report_rejections",
    "row_dict",
    "write_trailer",
]
