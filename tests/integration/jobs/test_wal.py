"""R9: the WAL stays bounded while the app runs; nothing holds an idle read transaction."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from desktop_app.bootstrap import App
from desktop_app.jobs import CHECKPOINT_JOB, JobsConfig, JobStatus, build_jobs
from desktop_app.store.engine import JOURNAL_SIZE_LIMIT
from desktop_app.store.maintenance import (
    checkpoint,
    file_sizes,
    idle_checkpoint,
    wal_path,
)

from .support import WAIT, add_product, change_price, open_app, raw, wait_for

PATIENT_MS = 240_000
"""A busy timeout far longer than any wait the checkpoint helpers may do."""

CONFIG = JobsConfig(
    projector_poll_seconds=0.05,
    snapshot_sweep_seconds=None,
    checkpoint_check_seconds=0.1,
    idle_seconds=0.4,
    backup_interval_seconds=None,
)


def test_wal_is_truncated_once_the_app_is_idle(app: App, product: str, db: Path) -> None:
    assert app.database is not None
    assert app.database.pragma_report()["journal_size_limit"] == JOURNAL_SIZE_LIMIT
    jobs = build_jobs(app, CONFIG, backups=False)
    # Every checkpoint run is published; the status table only keeps the latest run (a later
    # tick with nothing to do replaces its result), so collect what the job reported.
    truncations: list[JobStatus] = []

    def on_status(status: JobStatus) -> None:
        if status.name == CHECKPOINT_JOB and "TRUNCATE" in (status.last_result or ""):
            truncations.append(status)

    jobs.add_listener(on_status)
    jobs.start()
    try:
        biggest = 0
        for i in range(300):
            change_price(app, product, 100 + i)
            if i % 20 == 0:
                biggest = max(biggest, file_sizes(db).wal_bytes)
        assert biggest > 0  # commands did grow the WAL
        truncations.clear()
        assert app.projector is not None
        assert wait_for(lambda: app.projector is not None and app.projector.status().lag == 0, WAIT)
        # Once nothing happened for idle_seconds, the idle checkpoint empties the WAL, and the
        # job reports it (after the checkpoint returned: wait for the report, not the file).
        assert wait_for(lambda: file_sizes(db).wal_bytes == 0, WAIT, step=0.05)
        assert wait_for(lambda: bool(truncations), WAIT)
        assert jobs.status()[CHECKPOINT_JOB].failures == 0
        # While idle (projector polling away) nothing keeps a read transaction open: another
        # program's TRUNCATE checkpoint completes every time.
        outsider = raw(db)
        try:
            for i in range(10):
                if i == 5:
                    change_price(app, product, 999)  # some activity in between
                busy, log, done = outside_checkpoint(outsider)
                assert busy == 0 and log == done, (busy, log, done)
                time.sleep(0.05)  # pacing between looks, not a wait for anything
        finally:
            outsider.close()
        # The activity above is folded in and truncated again once idle.
        assert wait_for(lambda: file_sizes(db).wal_bytes == 0, WAIT, step=0.05)
    finally:
        jobs.shutdown()
    assert jobs.status()[CHECKPOINT_JOB].failures == 0


def outside_checkpoint(con: sqlite3.Connection) -> tuple[int, int, int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` from another connection: (busy, log, checkpointed).

    A reader or writer in the way is waited for (busy timeout); only one checkpoint runs at a
    time, though, and SQLite answers (1, -1, -1) at once, without waiting, when the app's own
    idle checkpoint is running. That is not a held transaction: look again once it is done.
    """
    result: tuple[int, int, int] = (1, -1, -1)

    def attempt() -> bool:
        nonlocal result
        busy, log, done = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        result = (int(busy), int(log), int(done))
        return result != (1, -1, -1)

    wait_for(attempt, WAIT, step=0.02)
    return result


def test_checkpoint_helpers_report_what_sqlite_did(db: Path) -> None:
    # This app waits minutes for a lock, so a blocked checkpoint that returns well within that
    # shows the checkpoint's own short wait, whatever the machine's speed.
    app = open_app(db, busy_timeout_ms=PATIENT_MS)
    try:
        _checkpoint_helpers(app, add_product(app), db)
    finally:
        app.close()


def _checkpoint_helpers(app: App, product: str, db: Path) -> None:
    assert app.database is not None
    for i in range(20):
        change_price(app, product, 100 + i)
    assert wal_path(db).exists()
    passive = checkpoint(app.database, "PASSIVE")
    assert passive is not None and passive.busy == 0 and passive.complete
    result = idle_checkpoint(app.database)
    assert result is not None and result.mode == "TRUNCATE" and result.complete
    assert result.wal_bytes == 0
    # A reader holding a snapshot blocks the truncation only briefly, and it is not an error.
    reader = raw(db)
    try:
        change_price(app, product, 555)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM events").fetchone()
        change_price(app, product, 556)
        started = time.monotonic()
        blocked = idle_checkpoint(app.database)
        assert time.monotonic() - started < PATIENT_MS / 1000 / 2
        assert blocked is not None and not blocked.complete
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert idle_checkpoint(app.database) is not None
    assert file_sizes(db).wal_bytes == 0
