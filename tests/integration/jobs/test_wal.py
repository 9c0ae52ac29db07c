"""R9: the WAL stays bounded while the app runs; nothing holds an idle read transaction."""

from __future__ import annotations

import time
from pathlib import Path

from desktop_app.bootstrap import App
from desktop_app.projector.scheduling import CHECKPOINT_JOB, JobsConfig
from desktop_app.store.engine import JOURNAL_SIZE_LIMIT
from desktop_app.store.maintenance import (
    build_jobs,
    checkpoint,
    file_sizes,
    idle_checkpoint,
    wal_path,
)

from .support import change_price, raw, wait_for

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
    jobs.start()
    try:
        biggest = 0
        for i in range(300):
            change_price(app, product, 100 + i)
            if i % 20 == 0:
                biggest = max(biggest, file_sizes(db).wal_bytes)
        assert biggest > 0  # commands did grow the WAL
        assert app.projector is not None
        assert wait_for(lambda: app.projector is not None and app.projector.status().lag == 0, 3)
        # Once nothing happened for idle_seconds, the idle checkpoint empties the WAL.
        assert wait_for(lambda: file_sizes(db).wal_bytes == 0, 3, step=0.05)
        status = jobs.status()[CHECKPOINT_JOB]
        assert status.failures == 0
        assert status.last_result is not None and "TRUNCATE" in status.last_result
        # While idle (projector polling away) nothing keeps a read transaction open: another
        # program's TRUNCATE checkpoint completes every time.
        outsider = raw(db)
        try:
            for i in range(10):
                if i == 5:
                    change_price(app, product, 999)  # some activity in between
                busy, log, done = outsider.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                assert busy == 0 and log == done, (busy, log, done)
                time.sleep(0.05)
        finally:
            outsider.close()
        assert file_sizes(db).wal_bytes == 0 or wait_for(
            lambda: file_sizes(db).wal_bytes == 0, 3, step=0.05
        )
    finally:
        jobs.shutdown()
    assert jobs.status()[CHECKPOINT_JOB].failures == 0


def test_checkpoint_helpers_report_what_sqlite_did(app: App, product: str, db: Path) -> None:
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
        assert time.monotonic() - started < 2
        assert blocked is not None and not blocked.complete
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert idle_checkpoint(app.database) is not None
    assert file_sizes(db).wal_bytes == 0
