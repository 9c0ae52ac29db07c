"""The audit bundle's auditors' notes and rejected commands (issue 11): how they are written
into ``annotations.json`` and ``rejected_commands.json`` (bundle format 2) and how
``check-bundle`` checks them.

The two are vouched for differently, and the check says so:

* **notes** are events of the order's notes stream (``auditnotes-<order id>``), so they are in
  the chain proof already (the proof runs from the order's first event to the head, and a note
  needs the order to exist). ``annotations.json`` is a readable copy of those rows; the check
  compares every listed note with its row in the proof (same hash, same stream, in the chain),
  finds notes missing or added, and replays the notes stream with the domain's rules
  (``AuditNotes.refusal``, as ``verify`` does) plus one the bundle can check better than
  ``verify``: the order must have reached the version a note was written at *before* the note.
* **rejected commands** are rows of the rejection log, outside the chain. They are covered by
  the manifest (a digest per rejection as well as the member's) and by the MAC like every
  member, and by nothing else: a forger who rebuilds the bundle can drop or change one
  unnoticed unless the MAC is checked with the database's key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from desktop_app.application.audit_bundle import (
    REJECTION_FIELDS,
    ProofRowT,
    item_digest,
    note_entries,
    notes_stream,
    payload_of,
)
from desktop_app.domain.annotations import AuditNotes
from desktop_app.domain.errors import DomainError
from desktop_app.domain.serialization import from_payload

ONLY_MAC = (
    "rejected commands are not in the hash chain: only the bundle's MAC vouches for them "
    "(the manifest's digests catch an edit that does not recompute them)"
)

Add = Callable[[str, str], None]
"""Records one verdict: (status, text)."""


# --- the check ---------------------------------------------------------------------------


class _Problems:
    """Problems of one check: counted, the first 20 listed."""

    def __init__(self, add: Add) -> None:
        self._add = add
        self.count = 0
        self._listed: list[str] = []

    def add(self, text: str) -> None:
        self.count += 1
        if len(self._listed) < 20:
            self._listed.append(text)

    def report(self, ok: tuple[str, str], what: str) -> None:
        if not self.count:
            self._add(*ok)
            return
        for text in self._listed:
            self._add("FAILED", text)
        if self.count > len(self._listed):
            self._add("FAILED", f"… and {self.count - len(self._listed):,} more {what}")


def check_annotations(
    add: Add,
    data: object,
    *,
    order_id: str,
    order_rows: Sequence[ProofRowT],
    note_rows: Sequence[ProofRowT],
) -> None:
    """Check ``annotations.json`` (``data``) against the notes stream's rows in the proof and
    replay that stream with the domain's rules."""
    problems = _Problems(add)
    stream = notes_stream(order_id)
    listed: list[Any] = []
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        problems.add("annotations.json is not a list of notes")
    else:
        listed = data["annotations"]
        if data.get("stream_id") != stream:
            problems.add(f"annotations.json names stream {data.get('stream_id')!r}, not {stream}")
    by_hash = {row[10]: row for row in note_rows}
    expected = {
        row[10]: entry for row, entry in zip(note_rows, note_entries(note_rows), strict=True)
    }
    seen: set[str] = set()
    for index, entry in enumerate(listed, start=1):
        name = _note_name(entry, index)
        digest = entry.get("hash") if isinstance(entry, dict) else None
        row = by_hash.get(digest) if isinstance(digest, str) else None
        if row is None:
            problems.add(
                f"annotations.json: {name} is not in the chain proof (no event of {stream} has "
                "its hash): added or altered"
            )
            continue
        seen.add(row[10])
        if entry != expected[row[10]]:
            problems.add(
                f"annotations.json: {name} differs from its event #{row[0]:,} ({stream} "
                f"v{row[2]}) in the chain proof: it was edited"
            )
    for row in note_rows:
        if row[10] not in seen:
            payload = payload_of(row) or {}
            problems.add(
                f"annotations.json leaves out note {payload.get('note_id', '?')} (event "
                f"#{row[0]:,}, {stream} v{row[2]}) that the chain proof holds"
            )
    _replay_notes(problems, order_id, order_rows, note_rows)
    corrections_count = sum(1 for row in note_rows if (payload_of(row) or {}).get("corrects"))
    problems.report(
        (
            "OK",
            f"auditors' notes: {len(note_rows):,} note(s)"
            + (f" ({corrections_count:,} correction(s))" if corrections_count else "")
            + f" listed exactly as the events of {stream} in the chain proof, each legal when "
            "written (the notes stream replayed with the domain's rules)",
        ),
        "note problems",
    )


def _note_name(entry: object, index: int) -> str:
    if isinstance(entry, dict):
        payload = entry.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("note_id"), str):
            return f"note {payload['note_id']}"
    return f"note {index} of the list"


def _replay_notes(
    problems: _Problems,
    order_id: str,
    order_rows: Sequence[ProofRowT],
    note_rows: Sequence[ProofRowT],
) -> None:
    """The notes stream replayed: versions 1..n, each note legal in the state before it, and
    written when the order had at least the version it claims."""
    notes = AuditNotes(order_id)
    order_positions = sorted(row[0] for row in order_rows)
    for index, row in enumerate(note_rows, start=1):
        where = f"note event #{row[0]:,} ({row[1]} v{row[2]})"
        if row[2] != index:
            problems.add(f"{where}: the notes stream skips from v{index - 1} to v{row[2]}")
            return
        try:
            payload = payload_of(row)
            if payload is None:
                raise ValueError("its payload is not a JSON object")
            event = from_payload(row[4], row[5], payload)
        except (DomainError, KeyError, TypeError, ValueError) as exc:
            problems.add(f"{where}: unreadable ({exc}); the rest cannot be replayed")
            return
        reason = notes.refusal(event)
        if reason is not None:
            problems.add(f"{where}: not legal when written: {reason}")
        claimed = payload.get("order_version")
        reached = sum(1 for position in order_positions if position < row[0])
        if type(claimed) is int and claimed > reached:
            problems.add(
                f"{where}: written at order version {claimed}, but the order had only "
                f"{reached} event(s) before it in the chain"
            )
        try:
            notes.apply(event)
        except (DomainError, KeyError, TypeError, ValueError) as exc:
            problems.add(f"{where}: cannot be applied ({exc!r})")
            return


def check_rejections(add: Add, data: object, stated: object, *, stream_id: str, mac: str) -> None:
    """Check ``rejected_commands.json`` (``data``) against the manifest's list of digests
    (``stated``); ``mac`` is the MAC check's verdict ("holds", "fails", "not checked")."""
    problems = _Problems(add)
    items: list[Any] = []
    if not isinstance(data, dict) or not isinstance(data.get("rejected_commands"), list):
        problems.add("rejected_commands.json is not a list of rejections")
    else:
        items = data["rejected_commands"]
    digests: dict[int, str] = {}
    if not isinstance(stated, dict) or not isinstance(stated.get("digests"), list):
        problems.add("the manifest lists no digests of the rejected commands")
    else:
        for item in stated["digests"]:
            if isinstance(item, dict) and type(item.get("rejection_id")) is int:
                digests[item["rejection_id"]] = str(item.get("sha256"))
    found: set[int] = set()
    last = 0
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != set(REJECTION_FIELDS):
            problems.add(f"rejected_commands.json: entry {index} is not a stored rejection")
            continue
        number = item["rejection_id"]
        name = f"rejection #{number} (refused {item.get('command_type')})"
        if type(number) is not int:
            problems.add(f"rejected_commands.json: entry {index} has no rejection number")
            continue
        if number <= last:
            problems.add(f"rejected_commands.json: {name} is out of order or listed twice")
        last = max(last, number)
        if item.get("stream_id") != stream_id:
            problems.add(f"rejected_commands.json: {name} is aimed at {item.get('stream_id')}")
        if number not in digests:
            problems.add(
                f"rejected_commands.json: {name} is not among those the manifest lists: added"
            )
            continue
        found.add(number)
        if item_digest(item) != digests[number]:
            problems.add(
                f"rejected_commands.json: {name} was changed: it does not match the digest the "
                "manifest lists for it"
            )
    for number in sorted(set(digests) - found):
        problems.add(
            f"rejected_commands.json: rejection #{number} is missing: the manifest lists it "
            "(it was dropped)"
        )
    if isinstance(stated, dict) and stated.get("count") != len(digests):
        problems.add("the manifest's count of rejected commands does not match its digests")
    vouched = {
        "holds": "the MAC holds, so they are as the exporting program read them",
        "fails": "the MAC does not hold (see above)",
    }.get(mac, "the MAC could not be checked here, so a rebuilt bundle could differ unnoticed")
    problems.report(
        (
            "OK" if mac == "holds" else "NOT CHECKED",
            f"rejected commands: {len(items):,} listed, each as the manifest lists it; "
            f"{ONLY_MAC}: {vouched}",
        ),
        "rejection problems",
    )


__all__ = ["ONLY_MAC", "check_annotations", "check_rejections"]
