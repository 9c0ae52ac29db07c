"""How a projector run cuts the log into batches while commands keep coming."""

from __future__ import annotations

from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.store.read_model import SqliteProjectionTarget
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
