"""A read-only file with read models behind the log: the projector reports the lag as a
read-only state (not a failure), stops retrying, and picks up another process's catch-up."""

from __future__ import annotations

from pathlib import Path

from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.demo_data import load_demo


def _file_with_unprojected_events(path: Path) -> None:
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        load_demo(app.commands, orders=4, seed=5, queries=app.queries)
    finally:
        app.close()


def test_read_only_lag_is_reported_without_an_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    _file_with_unprojected_events(path)
    viewer = bootstrap(Settings(db_path=path, read_only=True), source="test", create=False)
    try:
        projector = viewer.projector
        assert projector is not None
        before_run = projector.status()  # known from the start: never "catching up"
        assert before_run.read_only and before_run.lag > 0
        assert projector.run_once() == 0
        status = projector.status()
        assert status.last_error is None
        assert status.read_only
        assert status.checkpoint == 0 and status.lag == status.head > 0
        projector.has_news()  # the first look notes the file's data version
        # Nothing has changed in the file since: no point in trying again.
        assert projector.has_news() is False

        # Another process (here: a writable app) catches the read models up.
        writer = bootstrap(Settings(db_path=path), source="test", create=False)
        try:
            assert writer.projector is not None
            writer.projector.run_once()
            head = writer.projector.status().checkpoint
        finally:
            writer.close()
        assert projector.has_news() is True
        projector.run_once()
        caught_up = projector.status()
        assert caught_up.lag == 0 and caught_up.checkpoint == head
        assert not caught_up.read_only and caught_up.last_error is None
    finally:
        viewer.close()
