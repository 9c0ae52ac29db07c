"""Rows shared by the SQLite and in-memory stores: encoding, hashing, decoding, checks.

Both stores keep exactly the same row shape (texts as written to SQLite), so they hash,
verify and decode identically and pass one contract suite.

Over 500 lines on purpose: both stores must encode, hash and decode rows through the very same
code.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from desktop_app.application.fingerprints import MAX_FINGERPRINT_LENGTH
from desktop_app.application.ids import id_problem, is_plain_id
from desktop_app.application.ports import (
    AppendResult,
    CommandIdReusedError,
    Digest,
    EventData,
    EventMetadata,
    NewEvent,
    Snapshot,
    SnapshotInfo,
    SnapshotTrust,
    StoredEvent,
    StoredSnapshot,
    StoreError,
    VerifyResult,
)
from desktop_app.store.hashing import (
    ChainVerifier,
    Row,
    row_hash,
    to_json_text,
    utc_text,
)
from desktop_app.store.sealing import SealKey, seal, seal_verdict

Clock = Callable[[], datetime]

_log = logging.getLogger("desktop_app.store.snapshots")

MAX_VERSION = 2**62

_loads = json.loads
_fromiso = datetime.fromisoformat


def utc_now() -> datetime:
    """Default clock: the current UTC time."""
    return datetime.now(UTC)


def clock_text(clock: Clock) -> str:
    """The clock's reading as stored text; a naive clock is a programming error."""
    return utc_text(clock())


def check_append(
    stream_id: str,
    expected_version: int,
    events: Sequence[NewEvent],
    command_id: str | None = None,
    fingerprint: str | None = None,
) -> None:
    """Refuse malformed appends before any work (same rules for every store)."""
    if not isinstance(stream_id, str) or not stream_id:
        raise ValueError("stream_id must be a non-empty string")
    if command_id is not None and not is_plain_id(command_id):
        raise ValueError(f"the command id is not valid: {id_problem(command_id)}")
    if fingerprint is not None and (
        not isinstance(fingerprint, str)
        or not fingerprint
        or len(fingerprint) > MAX_FINGERPRINT_LENGTH
    ):
        raise ValueError(
            f"a command fingerprint must be text of 1 to {MAX_FINGERPRINT_LENGTH} characters"
        )
    if type(expected_version) is not int or expected_version < 0:
        raise ValueError("expected_version must be an integer >= 0")
    if not events:
        raise ValueError("append needs at least one event")
    seen: set[str] = set()
    for ev in events:
        if not ev.event_id or ev.event_id in seen:
            raise ValueError(f"event ids must be non-empty and unique: {ev.event_id!r}")
        seen.add(ev.event_id)
        if not ev.type_name:
            raise ValueError("type_name must not be empty")
        if type(ev.schema_version) is not int:
            raise ValueError("schema_version must be an integer")


Encoded = tuple[str, str, int, str, str]
"""(event_id, type_name, schema_version, payload_text, metadata_text)."""


def metadata_text(meta: EventMetadata) -> str:
    """``to_json_text(meta.to_json())``: the storage text of an event's metadata.

    Written directly for a plain ``EventMetadata`` of texts (every append encodes one; no dict,
    no walk, no key sort: ~1 µs instead of ~2.5): the keys in sorted order, each value quoted
    as the storage encoder quotes it, the same refusal of a lone surrogate. Anything else
    (a subclass, a value that is not a ``str``) goes the general way.
    """
    if type(meta) is not EventMetadata:
        return to_json_text(meta.to_json())
    app_version, causation, correlation = meta.app_version, meta.causation_id, meta.correlation_id
    host, source, user = meta.host, meta.source, meta.user
    if not (
        type(app_version) is str
        and type(causation) is str
        and type(correlation) is str
        and type(host) is str
        and type(source) is str
        and type(user) is str
    ):
        return to_json_text(meta.to_json())
    quote = encode_basestring
    text = (
        '{"app_version":'
        + quote(app_version)
        + ',"causation_id":'
        + quote(causation)
        + ',"correlation_id":'
        + quote(correlation)
        + ',"host":'
        + quote(host)
        + ',"source":'
        + quote(source)
        + ',"user":'
        + quote(user)
        + "}"
    )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text contains invalid Unicode (a lone surrogate)") from exc
    return text


def encode_events(events: Sequence[NewEvent]) -> list[Encoded]:
    """JSON-encode payloads and metadata (done before taking the write lock).

    The events of one append nearly always share one metadata object: it is encoded once.
    (No memory across appends: each command's metadata carries its own ids.)
    """
    out: list[Encoded] = []
    last_meta: EventMetadata | None = None
    meta_text = ""
    for ev in events:
        meta = ev.metadata
        if meta is not last_meta and (last_meta is None or meta != last_meta):
            meta_text = metadata_text(meta)
            last_meta = meta
        out.append(
            (ev.event_id, ev.type_name, ev.schema_version, to_json_text(ev.payload), meta_text)
        )
    return out


def build_rows(
    stream_id: str,
    first_version: int,
    first_position: int,
    prev_hash: str,
    recorded_at: str,
    encoded: Sequence[Encoded],
) -> list[Row]:
    """Rows with positions, versions and the extended hash chain."""
    rows: list[Row] = []
    position = first_position
    version = first_version
    for event_id, type_name, schema_version, payload, metadata in encoded:
        digest = row_hash(
            prev_hash,
            position,
            stream_id,
            version,
            event_id,
            type_name,
            schema_version,
            payload,
            metadata,
            recorded_at,
        )
        rows.append(
            (
                position,
                stream_id,
                version,
                event_id,
                type_name,
                schema_version,
                payload,
                metadata,
                recorded_at,
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
        position += 1
        version += 1
    return rows


def recorded_result(
    command_id: str,
    recorded: tuple[str, int, int, int, str | None],
    fingerprint: str | None,
) -> AppendResult:
    """The first result of a recorded command (``duplicate=True``), shared by both stores.

    ``recorded`` is (stream, version, first position, last position, stored fingerprint).
    When both fingerprints are known and differ, the id was reused for another command:
    ``CommandIdReusedError``. A record without one (written before fingerprints were kept)
    or a caller without one cannot tell, and is answered as a duplicate, as before.
    """
    stream_id, version, first_position, last_position, stored = recorded
    if fingerprint is not None and stored is not None and stored != fingerprint:
        raise CommandIdReusedError(command_id)
    return AppendResult(
        stream_id=stream_id,
        version=version,
        first_position=first_position,
        last_position=last_position,
        duplicate=True,
    )


def append_result(stream_id: str, rows: Sequence[Row]) -> AppendResult:
    """The result of a successful append."""
    return AppendResult(
        stream_id=stream_id,
        version=rows[-1][2],
        first_position=rows[0][0],
        last_position=rows[-1][0],
    )


_EMPTY_META = EventMetadata.from_json({})


@functools.lru_cache(maxsize=4096)
def _metadata(text: str) -> EventMetadata:
    # All events of one command share metadata text: decode it once (EventMetadata is frozen).
    # Each command has its own text, so a long history of one-event commands decodes every
    # one: on the fast scanner (load_json_text), which accepts and refuses what loads does.
    return EventMetadata.from_json(load_json_text(text))


_new_event = StoredEvent.__new__
_set = object.__setattr__


def decode_rows(rows: Sequence[Row]) -> list[StoredEvent]:
    """Stored rows to frozen events; every call returns fresh payload dicts.

    Builds each frozen ``StoredEvent`` with ``object.__setattr__`` instead of its generated
    ``__init__`` (~40% cheaper; loading a 10,000-event order is a hot path). The record has no
    ``__post_init__``; the contract tests compare these objects with normally built ones.
    """
    out: list[StoredEvent] = []
    append = out.append
    last_ts = ""
    last_dt = datetime.min
    last_meta_text = ""
    meta = _EMPTY_META
    for (
        position,
        stream_id,
        version,
        event_id,
        type_name,
        schema_version,
        payload,
        metadata,
        recorded_at,
        prev_hash,
        digest,
    ) in rows:
        if recorded_at != last_ts:
            last_dt = _fromiso(recorded_at).astimezone(UTC)
            last_ts = recorded_at
        if metadata != last_meta_text:
            meta = _metadata(metadata)
            last_meta_text = metadata
        ev = _new_event(StoredEvent)
        _set(ev, "position", position)
        _set(ev, "stream_id", stream_id)
        _set(ev, "version", version)
        _set(ev, "event_id", event_id)
        _set(ev, "type_name", type_name)
        _set(ev, "schema_version", schema_version)
        _set(ev, "payload", load_json_text(payload))
        _set(ev, "metadata", meta)
        _set(ev, "recorded_at", last_dt)
        _set(ev, "prev_hash", prev_hash)
        _set(ev, "hash", digest)
        append(ev)
    return out


DataRow = tuple[int, str, int, str]
"""(version, type_name, schema_version, payload_text): the lean columns of an aggregate load."""


# The C scanner json.loads ends in. Called directly it skips loads' type checks and two
# whitespace regex matches: 0.6 instead of 1.8 µs for a typical payload, and JSON decoding
# was the largest single cost of loading a long order. Stored text has no surrounding
# whitespace; whatever the scanner does not consume completely goes through json.loads,
# which then accepts or refuses it exactly as before.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
scan_json = _scan_json
"""The raw JSON scanner (``(value, end)``; StopIteration/ValueError on bad text)."""


def load_json_text(text: str) -> Any:
    """``json.loads(text)`` for stored JSON text, on the fast scanner when it can be."""
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, TypeError):
        return _loads(text)
    return value if end == len(text) else _loads(text)


def payload_object(text: object) -> dict[str, Any] | None:
    """A stored payload as a dict, or None when it is not a JSON object (verify reports it)."""
    if not isinstance(text, str):
        return None
    try:
        value = load_json_text(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def decode_data_rows(rows: Sequence[DataRow]) -> list[EventData]:
    """Lean rows to ``EventData`` with fresh payload dicts (the aggregate-load hot path)."""
    scan = _scan_json
    loads = _loads
    out: list[EventData] = []
    append = out.append
    for version, type_name, schema_version, text in rows:
        # load_json_text inlined: this loop runs once per event of a load.
        try:
            payload, end = scan(text, 0)
            if end != len(text):
                payload = loads(text)
        except (StopIteration, TypeError):
            payload = loads(text)
        append((version, type_name, schema_version, payload))
    return out


def verify_result(verifier: ChainVerifier) -> VerifyResult:
    """A ``VerifyResult`` from a finished verifier."""
    problem = verifier.problem
    return VerifyResult(
        ok=problem is None,
        checked=verifier.checked,
        head_position=verifier.head_position,
        head_hash=verifier.head_hash,
        first_bad_position=problem.position if problem else None,
        problem=problem.problem if problem else None,
    )


def digest_result(
    digest: Digest,
    stored_hash: str | None,
    count_upto: int,
    head_position: int,
    head_hash: str,
    verify: Callable[[], VerifyResult],
) -> VerifyResult:
    """Shared by both stores: compare with the digest, then verify the chain."""
    problem: str | None = None
    bad: int | None = None
    if digest.head_position > 0 and stored_hash is None:
        bad = head_position + 1 if head_position < digest.head_position else digest.head_position
        problem = (
            f"the log is shorter than the saved digest: event {digest.head_position} is gone "
            f"(the log now ends at {head_position}); events were removed from the end"
        )
    elif digest.head_position > 0 and stored_hash != digest.head_hash:
        bad = digest.head_position
        problem = (
            f"event {digest.head_position} is not the one the saved digest recorded: "
            "the log was rewritten"
        )
    elif count_upto != digest.event_count:
        bad = digest.head_position
        problem = (
            f"the saved digest counted {digest.event_count} events up to position "
            f"{digest.head_position}, the log now has {count_upto}: events were removed"
        )
    if problem is not None:
        return VerifyResult(
            ok=False,
            checked=0,
            head_position=head_position,
            head_hash=head_hash,
            first_bad_position=bad,
            problem=problem,
        )
    return verify()


# ---------------------------------------------------------------------------- snapshots

SnapshotRow = tuple[str, int, str, int, str, str, int, str, str]
"""(stream_id, version, aggregate_type, schema_version, state, checksum, size_bytes, taken_at,
seal) as stored."""

SNAPSHOT_COLUMNS = (
    "stream_id, version, aggregate_type, schema_version, state, checksum, size_bytes, taken_at, "
    "seal"
)


def snapshot_checksum(
    stream_id: str, version: int, aggregate_type: str, schema_version: int, state: str
) -> str:
    """sha256 over the identity and the state text: catches damage, and a row copied elsewhere.

    A public formula, so it proves nothing against someone who edits the file on purpose: only
    the seal (:mod:`desktop_app.store.sealing`) decides whether a snapshot is trusted.
    """
    head = json.dumps([stream_id, version, aggregate_type, schema_version], ensure_ascii=False)
    return hashlib.sha256((head + "\n" + state).encode("utf-8", "surrogatepass")).hexdigest()


def snapshot_row(
    snapshot: Snapshot, taken_at: str, key: SealKey | None, event_hash: str | None
) -> SnapshotRow:
    """Encode a snapshot for storage, sealed with ``key`` over ``event_hash`` (the hash of the
    event at the snapshot's version). Without both, the row would never be trusted: refused."""
    if not snapshot.stream_id:
        raise ValueError("stream_id must be a non-empty string")
    if type(snapshot.version) is not int or snapshot.version < 1:
        raise ValueError("a snapshot version must be an integer >= 1")
    state = to_json_text(snapshot.state)
    if event_hash is None:
        raise StoreError(
            f"No snapshot of {snapshot.stream_id} at version {snapshot.version}: "
            "the stream has no event at that version."
        )
    if key is None:
        raise StoreError(
            "Snapshots are not taken: there is no snapshot key for this database on this account."
        )
    return (
        snapshot.stream_id,
        snapshot.version,
        snapshot.aggregate_type,
        snapshot.schema_version,
        state,
        snapshot_checksum(
            snapshot.stream_id,
            snapshot.version,
            snapshot.aggregate_type,
            snapshot.schema_version,
            state,
        ),
        len(state.encode("utf-8")),
        taken_at,
        seal(
            key,
            snapshot.stream_id,
            snapshot.version,
            snapshot.aggregate_type,
            snapshot.schema_version,
            event_hash,
            state,
        ),
    )


def _valid(row: SnapshotRow) -> bool:
    stream_id, version, aggregate_type, schema_version, state, checksum = row[:6]
    if not (
        isinstance(stream_id, str)
        and type(version) is int
        and isinstance(aggregate_type, str)
        and type(schema_version) is int
        and isinstance(state, str)
    ):
        return False
    return checksum == snapshot_checksum(stream_id, version, aggregate_type, schema_version, state)


def decode_snapshot(row: SnapshotRow) -> Snapshot | None:
    """The snapshot of a row, or None when its checksum, JSON or fields are bad.

    Says nothing about trust: see :func:`snapshot_problem`."""
    if not _valid(row):
        return None
    return _decode_checked(row)


def _decode_checked(row: SnapshotRow) -> Snapshot | None:
    """:func:`decode_snapshot` for a row whose checksum was already found valid."""
    try:
        state = _loads(row[4])
        taken_at = _fromiso(row[7]).astimezone(UTC)
    except (ValueError, TypeError):
        return None
    if not isinstance(state, dict):
        return None
    return Snapshot(
        stream_id=row[0],
        aggregate_type=row[2],
        version=row[1],
        schema_version=row[3],
        state=state,
        taken_at=taken_at,
    )


def snapshot_verdict(
    row: SnapshotRow, event_hash: object, key: SealKey | None
) -> tuple[str, bool] | None:
    """None when the row may decide a command; else (why it is ignored, whether that shows
    tampering): damage first, then the seal over the stored event hash at its version."""
    if not _valid(row):
        return "damaged: its checksum does not match its contents", True
    return seal_verdict(key, row[8], row[0], row[1], row[2], row[3], event_hash, row[4])


def snapshot_problem(row: SnapshotRow, event_hash: object, key: SealKey | None) -> str | None:
    """None when the row may decide a command; else why it is ignored."""
    verdict = snapshot_verdict(row, event_hash, key)
    return None if verdict is None else verdict[0]


def trusted_snapshot(
    row: SnapshotRow, event_hash: object, key: SealKey | None, trust: SnapshotTrustLog
) -> Snapshot | None:
    """The snapshot of a row that passes every check, else None (and the refusal recorded)."""
    problem = snapshot_problem(row, event_hash, key)
    snap = _decode_checked(row) if problem is None else None
    if problem is None and snap is None:
        problem = "damaged: its state is not a readable JSON object"
    if problem is not None:
        trust.ignored(row[0], row[1], problem)
    return snap


def snapshot_info(row: SnapshotRow, event_hash: object, key: SealKey | None) -> SnapshotInfo:
    """Inspector line for a row; ``valid`` says whether it would be used, ``problem`` why not."""
    try:
        taken_at = _fromiso(str(row[7])).astimezone(UTC)
    except ValueError:
        taken_at = datetime.min.replace(tzinfo=UTC)
    problem = snapshot_problem(row, event_hash, key)
    if problem is None and decode_snapshot(row) is None:
        problem = "damaged: its state is not a readable JSON object"
    return SnapshotInfo(
        stream_id=str(row[0]),
        aggregate_type=str(row[2]),
        version=int(row[1]),
        schema_version=int(row[3]) if type(row[3]) is int else -1,
        taken_at=taken_at,
        size_bytes=int(row[6]) if type(row[6]) is int else -1,
        valid=problem is None,
        problem=problem,
    )


def stored_snapshot(row: SnapshotRow, event_hash: object, key: SealKey | None) -> StoredSnapshot:
    """One stored snapshot as ``verify`` examines it (the state parsed when it can be)."""
    verdict = snapshot_verdict(row, event_hash, key)
    state: dict[str, Any] | None
    try:
        loaded = _loads(row[4]) if isinstance(row[4], str) else None
        state = loaded if isinstance(loaded, dict) else None
    except ValueError:
        state = None
    return StoredSnapshot(
        stream_id=str(row[0]),
        version=row[1] if type(row[1]) is int else -1,
        aggregate_type=str(row[2]),
        schema_version=row[3] if type(row[3]) is int else -1,
        state=state,
        problem=None if verdict is None else verdict[0],
        key_checked=key is not None,
        suspect=verdict is not None and verdict[1],
    )


_MAX_LOGGED = 1000


class SnapshotTrustLog:
    """Counts the snapshots a store refused to trust, for the status and the log.

    Each refused row is logged once per process (a forged snapshot of a busy order must not
    fill the log); a missing key is logged once, not once per snapshot.
    """

    def __init__(self, key: SealKey | None, key_note: str) -> None:
        self._lock = threading.Lock()
        self._key = key
        self._note = key_note
        self._ignored = 0
        self._last: str | None = None
        self._logged: set[tuple[str, int, str]] = set()
        self._warned_no_key = False

    def ignored(self, stream_id: str, version: int, problem: str) -> None:
        """Record (and log once) that the snapshot at ``version`` of ``stream_id`` was ignored."""
        text = f"snapshot of {stream_id} at v{version} ignored: {problem}"
        with self._lock:
            self._ignored += 1
            self._last = text
            if self._key is None:
                first = not self._warned_no_key
                self._warned_no_key = True
            else:
                first = (stream_id, version, problem) not in self._logged
                if first and len(self._logged) < _MAX_LOGGED:
                    self._logged.add((stream_id, version, problem))
        if first:
            _log.warning("%s (full replay instead)", text)

    def status(self) -> SnapshotTrust:
        """What the status bar and ``status`` show."""
        with self._lock:
            return SnapshotTrust(
                sealing=self._key is not None,
                key_note=self._note,
                ignored=self._ignored,
                last_problem=self._last,
            )
