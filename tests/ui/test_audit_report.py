"""The PDF report of an audit bundle (issue 11): long runs folded, every event drawn otherwise,
pages as many as the rows need (real Qt PDF writer, offscreen)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from desktop_app.application.ports import EventMetadata, RecordedRejection, Rejection
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.ui.history.timeline_delegate import ROW_HEIGHT
from desktop_app.ui.printing.audit_report import (
    FOLD_AFTER,
    FOLD_KEEP,
    fold_runs,
    render_audit_report,
    timeline_rows,
)

_META = EventMetadata(
    correlation_id="c", causation_id="k", user="maria", host="WS-3", app_version="t", source="t"
)


def _entry(version: int, type_name: str, command: str = "k") -> HistoryEntry:
    return HistoryEntry(
        position=version + 10,
        version=version,
        event_id=f"e{version}",
        type_name=type_name,
        schema_version=1,
        recorded_at=datetime(2026, 1, 12, tzinfo=UTC) + timedelta(hours=version),
        metadata=_META,
        payload={},
        summary=f"summary {version}",
        prev_hash="0" * 64,
        hash=f"{version:064x}",
    )


def _history(changes: int) -> list[HistoryEntry]:
    types = ["OrderPlaced", "OrderLineAdded"] + ["OrderLineQuantityChanged"] * changes
    return [_entry(v, t) for v, t in enumerate([*types, "OrderConfirmed"], start=1)]


def _pages(pdf: bytes) -> int:
    return int(re.findall(rb"/Count (\d+)", pdf)[-1])


def test_a_long_run_is_folded_to_its_ends() -> None:
    history = _history(FOLD_AFTER + 10)
    rows = fold_runs(history)
    kept = [r for r in rows if isinstance(r, HistoryEntry)]
    (fold,) = [r for r in rows if not isinstance(r, HistoryEntry)]
    assert [e.version for e in kept] == [1, 2, 3, 4, 5, *range(len(history) - 3, len(history) + 1)]
    assert len(fold.entries) == FOLD_AFTER + 10 - 2 * FOLD_KEEP
    assert fold.text().startswith(
        f"… {len(fold.entries):,} more “quantity changed” events, v6–v{len(history) - 4:,}, "
    )
    # A run at the limit is drawn whole.
    assert fold_runs(_history(FOLD_AFTER)) == _history(FOLD_AFTER)


def test_the_report_has_a_front_page_and_enough_timeline_pages(qapp: Any) -> None:
    short = render_audit_report(title="t", facts=[("Order", "SO-1")], notes=["n"], entries=[])
    assert short.startswith(b"%PDF-") and _pages(short) == 1
    whole = _history(FOLD_AFTER)  # not folded: FOLD_AFTER + 3 rows
    pdf = render_audit_report(title="t", facts=[("Order", "SO-1")], notes=["n"], entries=whole)
    per_page = (1123 - 2 * 57 - 30) // ROW_HEIGHT  # A4 at 96 dpi less 15 mm margins and heading
    assert _pages(pdf) == 1 + -(-len(whole) // per_page)
    folded = render_audit_report(title="t", facts=[], notes=[], entries=_history(10 * FOLD_AFTER))
    assert _pages(folded) == 2  # 2 + 3 + fold + 3 + 1 rows fit on one timeline page


def _note(target: int, minute: int, note_id: str = "n") -> AuditNoteEntry:
    return AuditNoteEntry(
        note_id=f"{note_id}{target}",
        order_id="o",
        text=f"note on {target}",
        target_version=target,
        order_version=target,
        corrects=None,
        corrected_by=(),
        position=1000 + minute,
        version=minute,
        recorded_at=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=minute),
        metadata=_META,
    )


def _refused(after: HistoryEntry | None, number: int) -> RecordedRejection:
    when = (after.recorded_at if after else datetime(2026, 1, 1, tzinfo=UTC)) + timedelta(minutes=1)
    return RecordedRejection(
        rejection_id=number,
        recorded_at=when,
        rejection=Rejection(
            user="maria",
            host="WS-3",
            source="gui",
            app_version="t",
            command_type="ShipOrder",
            command_id=f"c{number}",
            correlation_id="k",
            stream_id="order-o",
            content="{}",
            error_class="RuleViolation",
            message="An order can only be shipped once it is confirmed.",
        ),
    )


def test_notes_sit_beside_their_events_and_refusals_in_time_order() -> None:
    history = _history(1)  # v1 placed, v2 line, v3 quantity, v4 confirmed
    early, between, late = _refused(None, 1), _refused(history[1], 2), _refused(history[3], 3)
    on_order, on_v2 = _note(0, 5), _note(2, 6)
    rows = timeline_rows(history, [on_v2, on_order], [late, between, early])
    assert rows == [on_order, early, history[0], history[1], on_v2, between, *history[2:], late]


def test_a_note_or_refusal_is_never_folded_away() -> None:
    history = _history(3 * FOLD_AFTER)
    middle = history[FOLD_AFTER + 10]
    note = _note(middle.version, 1)
    rows = fold_runs(timeline_rows(history, [note]))
    at = rows.index(note)
    assert rows[at - 1] == middle  # the annotated event is drawn, right above its note
    folds = [r for r in rows if not isinstance(r, HistoryEntry | AuditNoteEntry)]
    assert len(folds) == 2  # the run is split in two folded runs around it
    assert sum(len(f.entries) for f in folds) + len(
        [r for r in rows if isinstance(r, HistoryEntry)]
    ) == len(history)


def test_notes_and_refusals_take_rows_of_the_timeline_pages(qapp: Any) -> None:
    whole = _history(FOLD_AFTER)
    notes = [_note(v, v) for v in range(1, 11)]
    refused = [_refused(whole[i], i + 1) for i in range(5)]
    pdf = render_audit_report(
        title="t",
        facts=[("Order", "SO-1")],
        notes=["n"],
        entries=whole,
        annotations=notes,
        refused=refused,
    )
    per_page = (1123 - 2 * 57 - 30) // ROW_HEIGHT
    assert _pages(pdf) == 1 + -(-(len(whole) + 15) // per_page)
