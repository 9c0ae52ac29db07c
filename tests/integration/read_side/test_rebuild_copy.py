"""A full rebuild builds its new read model in private databases and copies it over the live
file in one transaction: until that commit every reader sees the old read model, an error at
any point leaves it whole (and no thread or file of the rebuild behind), and the next rebuild
works."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from desktop_app.bootstrap import App
from desktop_app.store.read_model import SqliteProjectionTarget
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side.support import checkpoint, dump_read_model

_STEPS = ("replace_cleared", "replace_rows_written", "replace_aside", "replace_copying")


class _Stop(Exception):
    """Raised by the fault hook: the rebuild is cut short there."""


def _target(app: App) -> SqliteProjectionTarget:
    target = app.read_model.target
    assert isinstance(target, SqliteProjectionTarget)
    return target


def _rebuild_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("rebuild-")]


@pytest.mark.parametrize("step", _STEPS)
def test_a_rebuild_failing_midway_leaves_the_old_read_model_whole(
    seeded: App, db_path: Path, step: str
) -> None:
    assert seeded.projector is not None
    before, at = dump_read_model(db_path), checkpoint(db_path)
    files = sorted(p.name for p in db_path.parent.iterdir())
    seen: list[str] = []

    def fault(name: str) -> None:
        seen.append(name)
        if name == step:
            raise _Stop(name)

    _target(seeded).fault = fault
    assert seeded.projector.rebuild() == 0
    status = seeded.projector.status()
    assert status.last_error is not None and "_Stop" in status.last_error
    assert seen[-1] == step
    assert _rebuild_threads() == []  # the part built on another thread was stopped too
    assert checkpoint(db_path) == at
    assert dump_read_model(db_path) == before
    # No file of the rebuild beside the database (its databases were private).
    assert sorted(p.name for p in db_path.parent.iterdir()) == files
    _target(seeded).fault = None
    assert seeded.projector.rebuild() > 0  # and the next rebuild works
    assert seeded.projector.status().last_error is None
    assert dump_read_model(db_path) == before


def test_readers_see_the_old_read_model_while_the_new_one_is_copied(
    seeded: App, db_path: Path
) -> None:
    assert seeded.projector is not None
    before, at = dump_read_model(db_path), checkpoint(db_path)
    during: list[tuple[int, dict[str, list[tuple[object, ...]]]]] = []
    # A reader that began before the copy: it keeps its snapshot of the old read model.
    reader = sqlite3.connect(f"file:{read_model_path(db_path)}?mode=ro", uri=True)
    reader.execute("BEGIN")
    count = reader.execute("SELECT count(*) FROM rm_orders").fetchone()[0]

    def fault(name: str) -> None:
        if name == "replace_copying":  # part of the new model is in the WAL, uncommitted
            during.append((checkpoint(db_path), dump_read_model(db_path)))

    try:
        _target(seeded).fault = fault
        # The new read model differs from the old one: its checkpoint moves on.
        with sqlite3.connect(read_model_path(db_path)) as con:
            con.execute("UPDATE rm_checkpoints SET position = position - 1")
            con.execute(
                "UPDATE rm_meta SET value = ? WHERE key = 'checkpoint_event'",
                (f"{at - 1}:{_event_hash(db_path, at - 1)}",),
            )
        stale = dump_read_model(db_path)
        assert seeded.projector.rebuild() > 0
        assert seeded.projector.status().last_error is None
        assert during == [(at - 1, stale)]  # the old model, whole, while copying
        assert reader.execute("SELECT count(*) FROM rm_orders").fetchone()[0] == count
    finally:
        reader.close()
    assert checkpoint(db_path) == at
    assert dump_read_model(db_path) == before


def _event_hash(path: Path, position: int) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(
            con.execute("SELECT hash FROM events WHERE position = ?", (position,)).fetchone()[0]
        )
    finally:
        con.close()
