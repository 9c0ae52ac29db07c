"""The background jobs of a bootstrapped application on a database file.

:func:`build_jobs` hands the scheduler (:mod:`desktop_app.jobs.scheduler`) the store's
maintenance operations and the projector as callables; neither the store nor the projector
knows about the jobs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from desktop_app.application.repository import Repository
from desktop_app.bootstrap import App
from desktop_app.jobs.scheduler import Jobs, JobsConfig
from desktop_app.store.anchors import last_anchor
from desktop_app.store.backup import BackupInfo, create_backup, newest_backup
from desktop_app.store.maintenance import (
    CheckpointResult,
    checkpoint,
    file_sizes,
    idle_checkpoint,
    streams_behind_snapshot,
    write_anchor,
)

log = logging.getLogger("desktop_app.jobs")

SWEEP_LIMIT = 200
"""Streams snapshotted per sweep at most (the next sweep takes the rest)."""


def build_jobs(
    app: App,
    config: JobsConfig | None = None,
    *,
    backups: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> Jobs:
    """The background jobs for a bootstrapped app on a SQLite file (not started); on a
    server (``settings.server``) only the projector job.

    Projector catch-up, snapshot sweep, idle WAL checkpoint (of the database and of its read
    model's file) and (with ``backups``) scheduled backups into ``settings.effective_backup_dir``
    keeping ``settings.backup_keep`` (the database only: the read model is rebuilt from it). A
    read-only database gets the projector job and backups (reading is allowed), no snapshot
    sweep, and checkpoints only of a read model it writes (a temporary one). Every database
    gets the daily anchor job (R28).
    ``clock`` replaces the jobs' clock (tests: "a day later" without waiting a day).
    """
    database, settings = app.database, app.settings
    if database is None and settings is not None and settings.server is not None:
        # A server database: the projector job only (woken by the LISTEN thread, polling
        # as the fallback and to take over the read model's lease). Backups are the server's
        # (pg_dump); no WAL, no anchors of a file.
        return Jobs(
            config=config or JobsConfig.from_settings(settings),
            projector=app.projector,
            clock=clock or _utc_now,
        )
    if database is None or settings is None:
        raise ValueError("background jobs need an app on a database file or a server")
    config = config or JobsConfig.from_settings(settings)
    writable = not database.read_only
    folder = settings.effective_backup_dir

    def find_behind(prefix: str, interval: int) -> list[str]:
        lags = streams_behind_snapshot(database, prefix, interval, limit=SWEEP_LIMIT)
        return [lag.stream_id for lag in lags]

    repositories: list[Repository[Any]] = [app.deps.orders, app.deps.customers, app.deps.products]
    sweep = partial(sweep_snapshots, repositories, find_behind, interval=settings.snapshot_interval)

    read_database = app.read_database
    read_writable = read_database is not None and not read_database.read_only

    def run_checkpoint(idle: bool) -> CheckpointResult | None:
        # The read model's own file too (its WAL grows with every projector batch).
        if read_writable:
            assert read_database is not None
            if idle:
                idle_checkpoint(read_database)
            else:
                checkpoint(read_database, "PASSIVE")
        if not writable:
            return None
        return idle_checkpoint(database) if idle else checkpoint(database, "PASSIVE")

    def wal_bytes() -> int:
        total = file_sizes(database.path).wal_bytes
        if read_database is not None:
            total += file_sizes(read_database.path).wal_bytes
        return total

    def run_backup() -> BackupInfo:
        info = create_backup(
            database.path,
            folder,
            keep=settings.backup_keep,
            busy_timeout_ms=database.busy_timeout_ms,
            anchor_log=settings.anchor_log,
        )
        log.info("backup written to %s", info.path)
        return info

    def last_backup_at() -> datetime | None:
        info = newest_backup(folder)
        return info.taken_at if info is not None else None

    def run_anchor() -> str:
        return write_anchor(database, settings.anchor_log, "daily")

    def last_anchor_at() -> datetime | None:
        anchor = last_anchor(settings.anchor_log, database.path)
        return anchor.taken_at if anchor is not None else None

    if backups and not _can_write_into(folder):
        log.warning("scheduled backups are off: %s cannot be written", folder)
        backups = False
    anchors = _can_write_into(settings.anchor_log.parent)
    if not anchors:
        log.warning("daily anchors are off: %s cannot be written", settings.anchor_log.parent)
    return Jobs(
        config=config,
        projector=app.projector,
        snapshot_sweep=sweep if writable and settings.snapshot_interval > 0 else None,
        wal_bytes=wal_bytes,
        checkpoint=run_checkpoint if writable or read_writable else None,
        backup=run_backup if backups else None,
        last_backup_at=last_backup_at,
        anchor=run_anchor if anchors else None,
        last_anchor_at=last_anchor_at,
        clock=clock or _utc_now,
    )


def sweep_snapshots(
    repositories: Sequence[Repository[Any]],
    find_behind: Callable[[str, int], Sequence[str]],
    *,
    interval: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Snapshot every stream that ``find_behind(prefix, interval)`` names, through the
    repository that owns the prefix; returns how many were taken. A stream that fails is
    logged and skipped (a snapshot is only a cache)."""
    if interval <= 0:
        return 0
    taken = 0
    for repository in repositories:
        prefix = repository.stream_id("")
        for stream_id in find_behind(prefix, interval):
            if should_stop():
                return taken
            aggregate_id = stream_id[len(prefix) :]
            try:
                aggregate = repository.try_load(aggregate_id)
                if aggregate is None:
                    continue
                repository.snapshot(aggregate)
            except Exception:
                log.warning("snapshot sweep: %s failed", stream_id, exc_info=True)
                continue
            taken += 1
    return taken


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _can_write_into(folder: Path) -> bool:
    """Can backups be written into ``folder`` (or the folder be created)? A read-only database
    in a read-only folder would otherwise fail a scheduled backup every interval."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


__all__ = ["SWEEP_LIMIT", "build_jobs", "sweep_snapshots"]
