"""How a projector run cuts the log into batches while commands keep coming."""

from __future__ import annotations

from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.store.read_model import SqliteProjectionTarget
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side.support import checkpoint, open_app


def test_a_run_ends_at_a_short_batch_and_leaves_later_commits_to_the_next_run(
    tmp_path: Path,
) -> None:
    """A batch that read fewer events than it may was the log's end when it read: a commit
    made while it worked is the next run's (the scheduler gathers such commits a moment and
    projects them together), not one more batch of its own in this run."""
    path = tmp_path / "db.sqlite3"
    app = open_app(path)
    try:
        projector, target = app.projector, app.read_model.target
        assert projector is not None and isinstance(target, SqliteProjectionTarget)
        for n in range(3):
            app.commands.dispatch(c.RegisterCustomer(name=f"Customer {n}"))
        commits = {"during": 0}

        def commit_while_writing(step: str) -> None:
            if step == "rows_written" and not commits["during"]:
                commits["during"] += 1  # a clerk's command while the batch writes its rows
                app.commands.dispatch(c.RegisterCustomer(name="Meanwhile"))

        target.fault = commit_while_writing
        assert projector.run_once() == 3
        status = projector.status()
        assert commits["during"] == 1
        assert (status.checkpoint, status.head, status.lag) == (3, 4, 1)
        assert checkpoint(path) == 3
        assert projector.has_news()  # behind: the next tick runs
        assert projector.run_once() == 1
        assert projector.status().lag == 0 and checkpoint(path) == 4
    finally:
        app.close()


def test_full_batches_go_on_within_one_run(tmp_path: Path) -> None:
    """Far behind (full batches), one run still catches up to the head."""
    path = tmp_path / "db.sqlite3"
    app = open_app(path)
    try:
        assert app.projector is not None
        for n in range(7):
            app.commands.dispatch(c.RegisterCustomer(name=f"Customer {n}"))
        app.projector._batch_size = 2
        assert app.projector.run_once() == 7
        assert app.projector.status().lag == 0 and checkpoint(path) == 7
    finally:
        app.close()


def test_batches_fold_the_read_models_wal_into_its_file_seldom(tmp_path: Path) -> None:
    """Each batch commits ~150 pages (the same index pages again and again): its WAL is folded
    into the file every few thousand pages, not every 1,000 (SQLite's default), so a hot page
    is written to the file once for many batches and the file is synced seldom beside the
    clerk's own syncs."""
    path = tmp_path / "db.sqlite3"
    app = open_app(path)
    try:
        assert app.projector is not None
        for n in range(800):
            app.commands.dispatch(c.RegisterCustomer(name=f"Customer {n}"))
        app.projector._batch_size = 1  # one commit per event: several pages each
        app.projector._bulk_catch_up = False
        assert app.projector.run_once() == 800
        assert checkpoint(path) == 800
        wal = Path(str(read_model_path(path)) + "-wal")
        # Frames written since the WAL last started over (a checkpoint restarts it from the
        # top; with the default it would never hold more than ~1,000 pages and one batch).
        frames = (wal.stat().st_size - 32) // (4096 + 24)
        assert frames > 2000
    finally:
        app.close()
