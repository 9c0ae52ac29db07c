"""The projector's report file (``<database>-projector.status``) is written at the end of every
run, but a run's start only once a second: the GUI's projector runs after nearly every commit,
and each atomic replace of the file costs milliseconds of I/O beside the clerks' commits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from desktop_app.application.queries import ProjectorStatus
from desktop_app.store.projector_report import StatusReporter, read_report


def _status(checkpoint: int, *, running: bool, error: str | None = None) -> ProjectorStatus:
    return ProjectorStatus(
        checkpoint=checkpoint,
        head=checkpoint + (1 if running else 0),
        lag=1 if running else 0,
        events_per_second=float(checkpoint),
        running=running,
        last_error=error,
        updated_at=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    )


def test_every_finished_run_is_reported_and_a_start_only_once_a_second(tmp_path: Path) -> None:
    db = tmp_path / "orders.sqlite3"
    # A clock that stands still: every call below is "within a second" of the previous one.
    reporter = StatusReporter(db, user="ada", host="ws", monotonic=lambda: 1000.0)
    try:
        reporter(_status(1, running=True))  # the first status is always written
        report = read_report(db)
        assert report is not None and report.running and report.checkpoint == 1
        reporter(_status(1, running=False))
        for n in range(2, 6):  # runs one after another, well within a second
            reporter(_status(n, running=True))
            report = read_report(db)
            assert report is not None and report.checkpoint == n - 1 and not report.running
            reporter(_status(n, running=False))
            report = read_report(db)  # the latest finished run, at once
            assert report is not None and report.checkpoint == n and not report.running
            assert report.events_per_second == float(n)
        reporter(_status(6, running=True, error="ProjectionError: event #7"))
        report = read_report(db)  # another error: at once, even when starting
        assert report is not None and report.last_error == "ProjectionError: event #7"
    finally:
        reporter.close()
    assert read_report(db) is None
