"""A full rebuild builds its new read model in private databases and copies it over the live
file in one transaction: until that commit every reader sees the old read model, an error at
any point leaves it whole (and no thread or file of the rebuild behind), and the next rebuild
works."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from desktop_app.application.ports import (
    CustomerState,
    LineState,
    OrderState,
    ProductState,
    WorkingSet,
)
from desktop_app.bootstrap import App
from desktop_app.store.read_model import SqliteProjectionTarget
from desktop_app.store.read_model_file import read_model_path
from desktop_app.store.read_model_rebuild import _WalFlusher
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


def test_the_working_set_is_emptied_once_its_rows_are_written(seeded: App, db_path: Path) -> None:
    """Its millions of objects are freed on a helper thread while the new read model is
    copied in (not by the caller afterwards, which took ~0.7 s at 1M events)."""
    target = _target(seeded)
    work = WorkingSet.indexed()
    work.customers["c1"] = CustomerState("c1", "Müller GmbH", 1, {"EUR": 500}, 1, "2025-01-01T00Z")
    work.products["p1"] = ProductState("p1", "AB-1", "Mug", 250, "EUR", False, 2, 1)
    order = OrderState("o1", "SO-1", "c1", "Müller GmbH", "draft", 1, 500, "EUR", "t0", "t1", 2, 7)
    work.orders["o1"] = order
    work.lines["o1"] = {"l1": LineState("o1", "l1", "p1", "AB-1", "Mug", 2, 250, "EUR", 6)}
    work.former_names.add(("c1", "Old Name Ltd"))
    target.replace_all("main", work, 7)
    assert (work.orders, work.lines, work.customers, work.products) == ({}, {}, {}, {})
    assert not work.former_names and work.orders_by_customer == {}
    assert checkpoint(db_path) == 7
    rows = dump_read_model(db_path)
    assert [r[:2] for r in rows["orders"]] == [("o1", "SO-1")], rows["orders"]


def test_a_file_without_the_search_index_is_rebuilt_without_one(seeded: App, db_path: Path) -> None:
    """(An SQLite without FTS5 makes no search table: the rebuild makes none either.)"""
    assert seeded.projector is not None
    with sqlite3.connect(read_model_path(db_path)) as con:
        con.execute("DROP TABLE rm_order_search")
    before = dump_read_model(db_path)
    assert "search" not in before
    assert seeded.projector.rebuild() > 0
    assert seeded.projector.status().last_error is None
    assert dump_read_model(db_path) == before


def test_the_copy_flushes_the_read_models_wal_itself(tmp_path: Path) -> None:
    """The WAL the copy appends to is the one flushed (a clerk's fsync would otherwise wait
    for all of it), and a database without a file (nothing to flush) is left alone."""
    path = tmp_path / "model.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    memory = sqlite3.connect(":memory:")
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        flusher = _WalFlusher(con)
        flusher.flush()
        wal = Path(f"{path}-wal")
        assert flusher._fd is not None
        assert os.fstat(flusher._fd).st_ino == wal.stat().st_ino
        flusher.close()
        assert flusher._fd is None
        nothing = _WalFlusher(memory)
        nothing.flush()
        assert nothing._fd is None
    finally:
        memory.close()
        con.close()
