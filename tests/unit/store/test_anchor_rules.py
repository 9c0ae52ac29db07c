"""R28: which anchors bind a file (its path), which only give notes (the same database
elsewhere), and which a restore or a new database at the path gives up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from desktop_app.store.anchors import Anchor, belonging

LIVE = Path("/data/orders.sqlite3")
COPY = Path("/elsewhere/orders.sqlite3")
DB_ID = "a" * 64


def _anchor(path: Path, position: int, reason: str = "exit", db_id: str | None = DB_ID) -> Anchor:
    return Anchor(
        reason=reason,
        db_path=str(path),
        database_id=db_id,
        head_position=position,
        head_hash=f"{position:064x}",
        event_count=position,
        taken_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _binding(anchors: list[Anchor], path: Path = LIVE) -> list[tuple[str, int, bool]]:
    kept, _ = belonging(anchors, db_path=path, database_id=DB_ID)
    return [(c.anchor.db_path, c.anchor.head_position, c.fail_beyond) for c in kept]


def test_anchors_of_the_path_bind_and_of_the_same_database_elsewhere_give_notes() -> None:
    anchors = [_anchor(LIVE, 5), _anchor(COPY, 7), _anchor(Path("/x.sqlite3"), 9, db_id="b" * 64)]
    assert _binding(anchors) == [(str(LIVE), 5, True), (str(COPY), 7, False)]
    assert _binding(anchors, COPY) == [(str(LIVE), 5, False), (str(COPY), 7, True)]


def test_a_restore_gives_up_only_the_earlier_anchors_of_its_path_beyond_its_head() -> None:
    anchors = [
        _anchor(LIVE, 5),
        _anchor(LIVE, 20),
        _anchor(COPY, 30),
        _anchor(LIVE, 10, reason="restore"),
        _anchor(LIVE, 25),  # written after the restore: binds again
    ]
    kept, superseded = belonging(anchors, db_path=LIVE, database_id=DB_ID)
    assert [a.head_position for a in superseded] == [20]
    assert [(c.anchor.head_position, c.fail_beyond) for c in kept] == [
        (5, True),
        (30, False),
        (10, True),
        (25, True),
    ]


def test_a_new_database_at_the_path_gives_up_every_earlier_anchor_of_it() -> None:
    anchors = [_anchor(LIVE, 5), _anchor(LIVE, 12), _anchor(LIVE, 0, reason="created", db_id=None)]
    kept, superseded = belonging(anchors, db_path=LIVE, database_id=None)
    assert [a.head_position for a in superseded] == [5, 12]
    assert [c.anchor.reason for c in kept] == ["created"]
