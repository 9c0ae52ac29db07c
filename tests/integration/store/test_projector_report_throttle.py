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


def test_the_report_is_rewritten_in_place_and_a_torn_one_is_not_shown(tmp_path: Path) -> None:
    """Each report is written into the same file (no new file renamed over it: that cost
    ~0.3 ms of CPU per finished run beside the clerk's commands); a report caught half
    written, or mixing two writes, is "not known" rather than a wrong figure."""
    from desktop_app.store.projector_report import report_path

    db = tmp_path / "orders.sqlite3"
    reporter = StatusReporter(db, user="ada", host="ws", monotonic=lambda: 1000.0)
    path = report_path(db)
    try:
        long_error = "ProjectionError: " + "x" * 3000  # longer than one padded block
        reporter(_status(1, running=False, error=long_error))
        report = read_report(db)
        assert report is not None and report.last_error == long_error
        inode = path.stat().st_ino
        reporter(_status(2, running=False))  # shorter: the longer tail must not stay
        assert path.stat().st_ino == inode  # the same file, rewritten in place
        report = read_report(db)
        assert report is not None and report.checkpoint == 2 and report.last_error is None
        assert report.user == "ada" and report.host == "ws"
        # A write caught half done: another figure in the text than the checksum covers.
        text = path.read_text(encoding="utf-8")
        assert '"checkpoint": 2,' in text
        path.write_text(text.replace('"checkpoint": 2,', '"checkpoint": 7,'), encoding="utf-8")
        assert read_report(db) is None
        body = text.rstrip()
        path.write_text(body[: len(body) // 2], encoding="utf-8")  # cut short: not JSON
        assert read_report(db) is None
        reporter(_status(3, running=False))  # the next write makes it readable again
        report = read_report(db)
        assert report is not None and report.checkpoint == 3
    finally:
        reporter.close()
    assert not path.exists()
